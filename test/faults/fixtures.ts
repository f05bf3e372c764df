// Shared set-up of the run-folder fault tests: a small synthetic run prepared (and trained) once per
// test file with the real CLI, copied for each scenario so that every test damages its own copy.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { BIN, REPO_ROOT, runCli, type CliResult } from '../helpers.js';

/** 40 scenes: prepare takes a few seconds with the seeded CNN; 32 train / 4 dev / 4 test images. */
export const SCENES = '40';
/** A decoder small enough that one epoch takes a second or two. */
export const SMALL_TRAIN = ['--embedding-size', '8', '--hidden-size', '16', '--batch-size', '8', '--replicas', '1'];

export async function prepareSynthetic(outDir: string, extra: string[] = []): Promise<CliResult> {
  const r = await runCli(['prepare', '--dataset', 'synthetic', '--count', SCENES, '--seed', '1', '--out', outDir, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return r;
}

/** A prepared run trained for `epochs` epochs. */
export async function trainedRun(outDir: string, epochs = 1): Promise<string> {
  await prepareSynthetic(outDir);
  const r = await runCli(['train', '--run', outDir, '--epochs', String(epochs), ...SMALL_TRAIN]);
  expect(r.code, r.stderr).toBe(0);
  return outDir;
}

export async function copyRun(from: string, to: string): Promise<string> {
  await fs.cp(from, to, { recursive: true });
  return to;
}

/** Every file below `dir` whose name ends in `.tmp` (what an atomic write leaves when it is not cleaned up). */
export async function tempFilesIn(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.name.endsWith('.tmp')) out.push(path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name));
  }
  return out;
}

/** A CLI error is one line: no stack frames. */
export function expectOneLineError(r: CliResult, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toMatch(/internal error/);
}

export interface Running {
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  /** Resolves when stderr matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `capgen ...args` and lets the test watch its stderr and signal it. */
export function startCli(args: string[]): Running {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, CAPGEN_BACKEND: 'wasm' } });
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout.resume();
  child.stderr.on('data', (d) => {
    stderr += d;
    for (const w of [...waiters]) {
      if (w.pattern.test(stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stderr: () => stderr,
    exit,
    waitFor(pattern, timeoutMs = 60_000) {
      if (pattern.test(stderr)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in:\n${stderr}`)), timeoutMs);
        waiters.push({ pattern, resolve: () => (clearTimeout(timer), resolve()) });
        void exit.then(() => setTimeout(() => reject(new Error(`exited before ${pattern} appeared:\n${stderr}`)), 50));
      });
    },
  };
}
