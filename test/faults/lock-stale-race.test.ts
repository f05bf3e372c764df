// The run-folder lock under contention, with real processes (the built dist/run/lock.js): many
// processes finding the same stale lock at the same instant (exactly one may take it over; before,
// two often did), and shard writers sharing a folder while every other writer is kept out.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../helpers.js';

const LOCK_JS = path.join(REPO_ROOT, 'dist', 'run', 'lock.js');

/**
 * A child that waits until `startAtMs`, tries the lock (shard `shard` if given), prints `got` or
 * `refused <message>`, holds it for `holdMs`, then exits.
 */
function contender(dir: string, opts: { startAtMs: number; holdMs: number; shard?: [number, number]; command?: string }): Promise<string> {
  const script = `
    const { acquireRunLock } = await import(${JSON.stringify(pathToFileURL(LOCK_JS).href)});
    while (Date.now() < ${opts.startAtMs}) {}
    let out;
    try {
      acquireRunLock(${JSON.stringify(dir)}, ${JSON.stringify(opts.command ?? 'train')}, ${JSON.stringify(opts.shard ? { shard: { index: opts.shard[0], count: opts.shard[1] } } : {})});
      out = 'got';
    } catch (e) {
      out = 'refused ' + e.message;
    }
    process.stdout.write(out + '\\n');
    setTimeout(() => process.exit(0), ${opts.holdMs});
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout.trim()) : reject(new Error(`contender exited ${code}: ${stderr}`))));
  });
}

function deadPid(): number {
  return Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']));
}

function writeStaleLock(dir: string, name = '.capgen.lock'): void {
  writeFileSync(
    path.join(dir, name),
    JSON.stringify({ pid: deadPid(), command: 'train', host: os.hostname(), startedAt: new Date().toISOString() }),
  );
}

describe.skipIf(!existsSync(LOCK_JS))('run lock under contention (processes)', () => {
  const root = tempDir('capgen-lockrace-');

  it('processes taking over one stale lock at the same instant: exactly one gets it, every time', async () => {
    const ROUNDS = 8;
    const CONTENDERS = 6;
    for (let round = 0; round < ROUNDS; round++) {
      const dir = path.join(root, `stale-${round}`);
      execFileSync('mkdir', ['-p', dir]);
      writeStaleLock(dir);
      // Start far enough ahead that every child has loaded and is spinning when the moment comes.
      const startAtMs = Date.now() + 1500;
      const results = await Promise.all(Array.from({ length: CONTENDERS }, () => contender(dir, { startAtMs, holdMs: 400 })));
      expect(
        results.filter((r) => r === 'got'),
        results.join('\n'),
      ).toHaveLength(1);
      for (const r of results.filter((x) => x !== 'got')) expect(r).toMatch(/^refused the run folder is in use by `capgen train`/);
      // Nothing is left but (at most) the released lock's absence: no takeover or temp files.
      expect(readdirSync(dir)).toEqual([]);
    }
  }, 120_000);

  it('shards of one folder run side by side; the same shard twice, and a non-shard writer, are refused', async () => {
    const dir = path.join(root, 'shards');
    const startAtMs = Date.now() + 1200;
    const results = await Promise.all([
      contender(dir, { startAtMs, holdMs: 1500, shard: [0, 2], command: 'prepare --shard 0/2' }),
      contender(dir, { startAtMs, holdMs: 1500, shard: [1, 2], command: 'prepare --shard 1/2' }),
      contender(dir, { startAtMs: startAtMs + 500, holdMs: 0, shard: [1, 2], command: 'prepare --shard 1/2' }),
      contender(dir, { startAtMs: startAtMs + 500, holdMs: 0, command: 'prepare' }),
    ]);
    expect(results.slice(0, 2)).toEqual(['got', 'got']);
    expect(results[2]).toMatch(/^refused the run folder is in use by `capgen prepare --shard 1\/2`/);
    expect(results[3]).toMatch(/^refused the run folder is in use by `capgen prepare --shard [01]\/2`/);
    // And the other way round: while a non-shard writer holds it, no shard gets in.
    const later = Date.now() + 1200;
    const second = await Promise.all([
      contender(dir, { startAtMs: later, holdMs: 1200, command: 'prepare' }),
      contender(dir, { startAtMs: later + 500, holdMs: 0, shard: [0, 2], command: 'prepare --shard 0/2' }),
    ]);
    expect(second[0]).toBe('got');
    expect(second[1]).toMatch(/^refused the run folder is in use by `capgen prepare` /);
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);

  it('a shard and a non-shard writer starting at the same instant never both get the folder', async () => {
    for (let round = 0; round < 6; round++) {
      const dir = path.join(root, `mixed-${round}`);
      const startAtMs = Date.now() + 1200;
      const [shard, plain] = await Promise.all([
        contender(dir, { startAtMs, holdMs: 400, shard: [0, 2], command: 'prepare --shard 0/2' }),
        contender(dir, { startAtMs, holdMs: 400, command: 'prepare' }),
      ]);
      expect([shard, plain].filter((r) => r === 'got').length, `${shard}\n${plain}`).toBeLessThanOrEqual(1);
    }
  }, 60_000);

  it('a stale shard lock is taken over by a rerun of that shard', async () => {
    const dir = path.join(root, 'stale-shard');
    execFileSync('mkdir', ['-p', dir]);
    writeStaleLock(dir, '.capgen.shard-1-of-2.lock');
    const r = await contender(dir, { startAtMs: 0, holdMs: 0, shard: [1, 2], command: 'prepare --shard 1/2' });
    expect(r).toBe('got');
  }, 30_000);
});
