// Defect 1: two writers, one run folder. Two `capgen train --run X` started together both exited 0,
// leaving best/ from one and last/ + history from the other. Now the second writer exits 2 naming
// the holder; a lock whose process is gone is taken over; readers never need the lock.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/run/lock.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { copyRun, expectOneLineError, SMALL_TRAIN, trainedRun } from './fixtures.js';

/** A lock file as a live capgen would write it, held by `pid`. */
function writeLock(runDir: string, pid: number): void {
  writeFileSync(
    path.join(runDir, LOCK_FILE),
    JSON.stringify({ pid, command: 'train', host: os.hostname(), startedAt: new Date().toISOString() }),
  );
}

describe.skipIf(!existsSync(BIN))('run folder lock', () => {
  const root = tempDir('capgen-lock-');
  let base: string;

  it('two trainings started together: exactly one runs, the other exits 2 naming the holder', async () => {
    base = await trainedRun(path.join(root, 'base'));
    const run = await copyRun(base, path.join(root, 'race'));
    const args = ['train', '--run', run, '--overwrite', '--epochs', '2', ...SMALL_TRAIN];
    const [a, b] = await Promise.all([runCli(args), runCli(args)]);
    expect([a.code, b.code].sort()).toEqual([0, 2]);
    const loser = a.code === 2 ? a : b;
    expectOneLineError(loser, /the run folder is in use by `capgen train` \(pid \d+ on /);
    expect(existsSync(path.join(run, LOCK_FILE))).toBe(false); // released by the winner
  }, 120_000);

  it('prepare, train and eval refuse a folder locked by a live process; caption and eval --out elsewhere do not care', async () => {
    const run = await copyRun(base, path.join(root, 'held'));
    writeLock(run, process.pid); // this test process: alive, on this host
    expectOneLineError(
      await runCli(['train', '--run', run, '--resume', '--epochs', '2']),
      new RegExp(`in use by \`capgen train\` \\(pid ${process.pid}`),
    );
    expectOneLineError(await runCli(['prepare', '--dataset', 'synthetic', '--count', '40', '--out', run]), /in use by/);
    expectOneLineError(await runCli(['eval', '--run', run, '--split', 'test']), /in use by/);
    const elsewhere = await runCli(['eval', '--run', run, '--split', 'test', '--out', path.join(root, 'eval-elsewhere')]);
    expect(elsewhere.code, elsewhere.stderr).toBe(0);
    const image = path.join(run, 'dataset', 'Images', 'scene_00040.png');
    const caption = await runCli(['caption', '--checkpoint', path.join(run, 'train', 'best'), image]);
    expect(caption.code, caption.stderr).toBe(0);
    expect(caption.stdout).toContain('scene_00040.png\t');
  }, 120_000);

  it('a lock left by a process that is gone (kill -9) is taken over with a warning', async () => {
    const run = await copyRun(base, path.join(root, 'stale'));
    const deadPid = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']));
    writeLock(run, deadPid);
    const r = await runCli(['train', '--run', run, '--resume', '--epochs', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`warning: taking over the lock of \`capgen train\` \\(pid ${deadPid}.*no longer running`));
    expect(existsSync(path.join(run, LOCK_FILE))).toBe(false);
  }, 120_000);
});
