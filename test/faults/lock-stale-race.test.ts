// The run-folder lock under contention, with real processes (the built dist/run/lock.js): many
// processes finding the same stale lock at the same instant (exactly one may take it over; before,
// two often did), and shard writers sharing a folder while every other writer is kept out.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../helpers.js';

const LOCK_JS = path.join(REPO_ROOT, 'dist', 'run', 'lock.js');

interface Contender {
  shard?: [number, number];
  command?: string;
}

/**
 * Child processes that each load the lock module, say they are ready, spin until go() (so that they
 * try the lock at the same instant however loaded the machine is), try it, print `got` or
 * `refused <message>`, and hold what they got until release().
 */
async function startGroup(dir: string, contenders: Contender[]) {
  const control = mkdtempSync(path.join(os.tmpdir(), 'capgen-lockgroup-'));
  const goFile = path.join(control, 'go');
  const releaseFile = path.join(control, 'release');
  const children = contenders.map((c) => {
    const options = c.shard ? { shard: { index: c.shard[0], count: c.shard[1] } } : {};
    const script = `
      import { existsSync } from 'node:fs';
      const { acquireRunLock } = await import(${JSON.stringify(pathToFileURL(LOCK_JS).href)});
      process.stdout.write('ready\\n');
      while (!existsSync(${JSON.stringify(goFile)})) {}
      let out;
      try {
        acquireRunLock(${JSON.stringify(dir)}, ${JSON.stringify(c.command ?? 'train')}, ${JSON.stringify(options)});
        out = 'got';
      } catch (e) {
        out = 'refused ' + e.message;
      }
      process.stdout.write(out + '\\n');
      const timer = setInterval(() => existsSync(${JSON.stringify(releaseFile)}) && (clearInterval(timer), process.exit(0)), 20);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const line = (n: number) =>
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const done = stdout.split('\n').slice(0, -1);
          if (done.length > n) resolve(done[n]);
          else if (child.exitCode !== null) reject(new Error(`contender exited ${child.exitCode}: ${stderr}`));
          else setTimeout(check, 10);
        };
        check();
      });
    const exit = new Promise<void>((resolve) => child.on('close', () => resolve()));
    return { line, exit };
  });
  await Promise.all(children.map((c) => c.line(0))); // every one loaded and spinning
  return {
    async go(): Promise<string[]> {
      writeFileSync(goFile, '');
      return Promise.all(children.map((c) => c.line(1)));
    },
    async release(): Promise<void> {
      writeFileSync(releaseFile, '');
      await Promise.all(children.map((c) => c.exit));
      rmSync(control, { recursive: true, force: true });
    },
  };
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
      mkdirSync(dir);
      writeStaleLock(dir);
      const group = await startGroup(
        dir,
        Array.from({ length: CONTENDERS }, () => ({})),
      );
      const results = await group.go();
      await group.release();
      expect(
        results.filter((r) => r === 'got'),
        results.join('\n'),
      ).toHaveLength(1);
      for (const r of results.filter((x) => x !== 'got')) expect(r).toMatch(/^refused the run folder is in use by `capgen train`/);
      // No takeover or temp files left, and the winner released the lock.
      expect(readdirSync(dir)).toEqual([]);
    }
  }, 180_000);

  it('shards of one folder run side by side; the same shard twice, and a non-shard writer, are refused', async () => {
    const dir = path.join(root, 'shards');
    const shards = await startGroup(dir, [
      { shard: [0, 2], command: 'prepare --shard 0/2' },
      { shard: [1, 2], command: 'prepare --shard 1/2' },
    ]);
    expect(await shards.go()).toEqual(['got', 'got']);
    const others = await startGroup(dir, [{ shard: [1, 2], command: 'prepare --shard 1/2' }, { command: 'prepare' }]);
    const refused = await others.go();
    await others.release();
    await shards.release();
    expect(refused[0]).toMatch(/^refused the run folder is in use by `capgen prepare --shard 1\/2`/);
    expect(refused[1]).toMatch(/^refused the run folder is in use by `capgen prepare --shard [01]\/2`/);
    // And the other way round: while a non-shard writer holds it, no shard gets in.
    const plain = await startGroup(dir, [{ command: 'prepare' }]);
    expect(await plain.go()).toEqual(['got']);
    const shard = await startGroup(dir, [{ shard: [0, 2], command: 'prepare --shard 0/2' }]);
    const [late] = await shard.go();
    await shard.release();
    await plain.release();
    expect(late).toMatch(/^refused the run folder is in use by `capgen prepare` /);
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);

  it('a shard and a non-shard writer starting at the same instant never both get the folder', async () => {
    for (let round = 0; round < 6; round++) {
      const group = await startGroup(path.join(root, `mixed-${round}`), [
        { shard: [0, 2], command: 'prepare --shard 0/2' },
        { command: 'prepare' },
      ]);
      const results = await group.go();
      await group.release();
      expect(results.filter((r) => r === 'got').length, results.join('\n')).toBeLessThanOrEqual(1);
    }
  }, 60_000);

  it('a stale shard lock is taken over by a rerun of that shard', async () => {
    const dir = path.join(root, 'stale-shard');
    mkdirSync(dir);
    writeStaleLock(dir, '.capgen.shard-1-of-2.lock');
    const group = await startGroup(dir, [{ shard: [1, 2], command: 'prepare --shard 1/2' }]);
    expect(await group.go()).toEqual(['got']);
    await group.release();
  }, 30_000);
});
