// Shared test helpers: temp folders, the ../shared data (optional), and running the built CLI.
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, it } from 'vitest';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(REPO_ROOT, 'bin', 'capgen.js');
/** Real data beside the checkout (developers and CI have it; a user's fresh clone does not). */
export { HAS_SHARED, SHARED_DIR } from './shared-data.js';

/**
 * Whether to skip the tests of an optional dependency (onnxruntime-node, Chromium) that is missing:
 * on a user's machine they skip with a printed note; with CI set they do not skip quietly, because CI
 * installs every optional dependency: the file gets one failing test that names what is missing.
 */
export function skipWithout(available: boolean, what: string, reason: string): boolean {
  if (available) return false;
  if (process.env.CI) {
    it(`${what} is installed (CI is set, so its tests must run)`, () => {
      throw new Error(`${what} is missing on CI: ${reason}`);
    });
  } else {
    process.stderr.write(`note: tests that need ${what} are skipped: ${reason}\n`);
  }
  return true;
}

/** A temp folder removed after the test file finishes. */
export function tempDir(prefix = 'capgen-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/capgen.js ...args` (the built CLI) as a child process. */
export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, CAPGEN_BACKEND: 'wasm', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/**
 * Reads of tensor values to the host by capgen's code (dataSync, data, arraySync, array, buffer*).
 * The cpu backend's own kernels read their inputs internally; on a GPU those run on the device,
 * so they are not what this counts.
 */
export function countReads<T>(fn: () => T): { value: T; reads: number } {
  const proto = tf.Tensor.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const names = ['dataSync', 'data', 'arraySync', 'array', 'bufferSync', 'buffer'];
  const saved = names.map((n) => proto[n]);
  let reads = 0;
  names.forEach((n, i) => {
    proto[n] = function (this: unknown, ...a: unknown[]) {
      reads++;
      return saved[i].apply(this, a);
    };
  });
  try {
    return { value: fn(), reads };
  } finally {
    names.forEach((n, i) => (proto[n] = saved[i]));
  }
}
