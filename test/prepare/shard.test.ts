// `prepare --shard I/N` (job arrays) and `prepare --feature-cache DIR`, through the built CLI: shard
// processes started together into one run folder, a shard killed with -9 and rerun, the merge by a
// plain prepare, all ending with the same feature cache bytes as one process; the features of a
// shared cache are computed once across runs.
import { spawn } from 'node:child_process';
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, REPO_ROOT, runCli, tempDir, type CliResult } from '../helpers.js';
import { expectOneLineError } from '../faults/fixtures.js';

const SCENES = '40';
/** Small batches: a shard of 40 images writes several, so a kill lands between two of them. */
const FLAGS = ['--encoder', 'seeded-cnn', '--batch-size', '2', '--workers', '1'];

/** The one cache folder of a run (features/<key>/). */
function cacheDirOf(root: string): string {
  const keys = readdirSync(root).filter((n) => !n.startsWith('.'));
  expect(keys).toHaveLength(1);
  return path.join(root, keys[0]);
}

async function cacheBytes(dir: string): Promise<{ vectors: Buffer; index: string }> {
  return { vectors: await fs.readFile(path.join(dir, 'vectors.bin')), index: await fs.readFile(path.join(dir, 'index.jsonl'), 'utf8') };
}

function computedOf(r: CliResult): number {
  const m = /\((\d+) computed, (\d+) reused\)/.exec(r.stderr);
  expect(m, r.stderr).not.toBeNull();
  return Number(m?.[1]);
}

describe.skipIf(!existsSync(BIN))('prepare --shard', () => {
  const root = tempDir('capgen-shard-');
  const data = path.join(root, 'gen', 'dataset');
  const one = path.join(root, 'one');
  const prep = (out: string, extra: string[] = []) => ['prepare', '--data', data, '--out', out, ...FLAGS, ...extra];

  it('a one-process prepare (the reference)', async () => {
    const gen = await runCli([
      'prepare',
      '--dataset',
      'synthetic',
      '--count',
      SCENES,
      '--seed',
      '1',
      '--encoder',
      'none',
      '--out',
      path.join(root, 'gen'),
    ]);
    expect(gen.code, gen.stderr).toBe(0);
    const r = await runCli(prep(one));
    expect(r.code, r.stderr).toBe(0);
    expect(computedOf(r)).toBe(40);
  }, 120_000);

  it('3 shards started at once, then a plain prepare: it computes nothing and its cache is byte-identical', async () => {
    const run = path.join(root, 'three');
    const shards = await Promise.all([0, 1, 2].map((i) => runCli(prep(run, ['--shard', `${i}/3`]))));
    for (const s of shards) expect(s.code, s.stderr).toBe(0);
    // Each shard computed only its own images, and together all of them, once.
    const owned = shards.map((s) => Number(/: (\d+) of 40 images \(/.exec(s.stderr)?.[1]));
    expect(owned.reduce((a, b) => a + b, 0)).toBe(40);
    expect(Math.min(...owned)).toBeGreaterThan(0);
    expect(existsSync(path.join(run, 'prepare.json'))).toBe(false); // shards write no run files

    const merged = await runCli(prep(run));
    expect(merged.code, merged.stderr).toBe(0);
    expect(computedOf(merged)).toBe(0);
    expect(merged.stderr).toMatch(/\(0 computed, 40 reused\)/);
    const cache = cacheDirOf(path.join(run, 'features'));
    expect(await cacheBytes(cache)).toEqual(await cacheBytes(cacheDirOf(path.join(one, 'features'))));
    expect(existsSync(path.join(cache, 'shards'))).toBe(false); // consolidated, then removed
    expect(readdirSync(run).filter((n) => n.startsWith('.'))).toEqual([]); // no lock or shard record left
    // The run trains like any other.
    const trained = await runCli([
      'train',
      '--run',
      run,
      '--epochs',
      '1',
      '--embedding-size',
      '8',
      '--hidden-size',
      '16',
      '--batch-size',
      '8',
    ]);
    expect(trained.code, trained.stderr).toBe(0);
  }, 180_000);

  it('a shard killed with -9 mid-way is rerun alone and resumes; the merge is still byte-identical', async () => {
    const run = path.join(root, 'killed');
    const other = runCli(prep(run, ['--shard', '1/2']));
    const child = spawn(process.execPath, [BIN, ...prep(run, ['--shard', '0/2'])], {
      cwd: REPO_ROOT,
      env: { ...process.env, CAPGEN_BACKEND: 'wasm' },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.on('close', resolve));
    // Kill it once its first batches are committed (index lines), before it is done.
    const index = () => path.join(run, 'features');
    const committed = (): number => {
      try {
        const sub = path.join(cacheDirOf(index()), 'shards', '0-of-2', 'index.jsonl');
        return readFileSync(sub, 'utf8').split('\n').length - 1;
      } catch {
        return 0;
      }
    };
    const started = Date.now();
    while (committed() < 2 && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await exited;
    const sub = path.join(cacheDirOf(index()), 'shards', '0-of-2');
    expect(existsSync(path.join(sub, 'done.json'))).toBe(false); // it really died mid-way
    const before = committed();
    expect(before).toBeGreaterThanOrEqual(2);
    expect((await other).code).toBe(0); // the other shard was not disturbed

    const rerun = await runCli(prep(run, ['--shard', '0/2']));
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(/taking over the lock of `capgen prepare --shard 0\/2`/);
    const owned = Number(/: (\d+) of 40 images \(/.exec(rerun.stderr)?.[1]);
    expect(shardComputed(rerun)).toBe(owned - 2 * before); // resumed: the committed rows (2 a batch) were kept

    const merged = await runCli(prep(run));
    expect(merged.code, merged.stderr).toBe(0);
    expect(computedOf(merged)).toBe(0);
    expect(await cacheBytes(cacheDirOf(path.join(run, 'features')))).toEqual(await cacheBytes(cacheDirOf(path.join(one, 'features'))));
  }, 180_000);

  it('a merge with a shard missing computes that shard itself, still byte-identical', async () => {
    const run = path.join(root, 'partial');
    expect((await runCli(prep(run, ['--shard', '1/2']))).code).toBe(0);
    const merged = await runCli(prep(run));
    expect(merged.code, merged.stderr).toBe(0);
    const computed = computedOf(merged);
    expect(computed).toBeGreaterThan(0);
    expect(computed).toBeLessThan(40);
    expect(await cacheBytes(cacheDirOf(path.join(run, 'features')))).toEqual(await cacheBytes(cacheDirOf(path.join(one, 'features'))));
  }, 120_000);

  it('refuses bad --shard values, a shard of another encoder or shard count (exit 2, one line), keeping what shards wrote', async () => {
    const run = path.join(root, 'bad');
    for (const bad of ['3/3', '-1/2', '0/0', 'x'])
      expectOneLineError(await runCli(prep(run, [`--shard=${bad}`])), /--shard .*(not of the form|does not exist|at least 1)/);
    expect((await runCli(prep(run, ['--shard', '0/2']))).code).toBe(0);
    const otherEncoder = await runCli(['prepare', '--data', data, '--out', run, ...FLAGS, '--pooling', 'none', '--shard', '1/2']);
    expectOneLineError(
      otherEncoder,
      /shards of encoder seeded-cnn \(cache .*\) are under way in this run folder; this shard is of seeded-cnn/,
    );
    expect(readdirSync(path.join(run, 'features'))).toHaveLength(1); // it wrote nothing
    expectOneLineError(await runCli(prep(run, ['--shard', '1/3'])), /shards of 2 are under way in this run folder; this one is 1\/3/);
    // What the first shard wrote is intact: the merge still uses it.
    const merged = await runCli(prep(run));
    expect(merged.code, merged.stderr).toBe(0);
    expect(await cacheBytes(cacheDirOf(path.join(run, 'features')))).toEqual(await cacheBytes(cacheDirOf(path.join(one, 'features'))));
  }, 120_000);
});

function shardComputed(r: CliResult): number {
  const m = /\((\d+) computed, (\d+) reused, (\d+) unreadable\)/.exec(r.stderr);
  expect(m, r.stderr).not.toBeNull();
  return Number(m?.[1]);
}

describe.skipIf(!existsSync(BIN))('prepare --feature-cache', () => {
  const root = tempDir('capgen-fcache-');
  const data = path.join(root, 'gen', 'dataset');
  const shared = path.join(root, 'shared-cache');

  it('a second run with the same --feature-cache computes nothing; prepare.json names the cache by absolute path', async () => {
    const gen = await runCli([
      'prepare',
      '--dataset',
      'synthetic',
      '--count',
      SCENES,
      '--seed',
      '1',
      '--encoder',
      'none',
      '--out',
      path.join(root, 'gen'),
    ]);
    expect(gen.code, gen.stderr).toBe(0);
    // Two runs' prepares at once on one cache: one computes, the other waits its turn or is refused whole.
    const [a, b] = await Promise.all(
      ['a', 'b'].map((n) => runCli(['prepare', '--data', data, '--out', path.join(root, n), ...FLAGS, '--feature-cache', shared])),
    );
    expect([a.code, b.code]).toContain(0);
    for (const r of [a, b]) if (r.code !== 0) expectOneLineError(r, /the feature cache is in use by `capgen prepare`/);
    const second = await runCli(['prepare', '--data', data, '--out', path.join(root, 'c'), ...FLAGS, '--feature-cache', shared]);
    expect(second.code, second.stderr).toBe(0);
    expect(computedOf(second)).toBe(0);
    const record = JSON.parse(readFileSync(path.join(root, 'c', 'prepare.json'), 'utf8')) as { features: { dir: string } };
    expect(record.features.dir).toBe(cacheDirOf(shared));
    expect(existsSync(path.join(root, 'c', 'features'))).toBe(false);
    const rows = readFileSync(path.join(cacheDirOf(shared), 'index.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .flatMap((l) => (JSON.parse(l) as { names: string[] }).names);
    expect(rows).toHaveLength(40); // each image computed once, by one of the two runs
    // Readers find it there: train and eval run from the shared cache.
    const trained = await runCli([
      'train',
      '--run',
      path.join(root, 'c'),
      '--epochs',
      '1',
      '--embedding-size',
      '8',
      '--hidden-size',
      '16',
      '--batch-size',
      '8',
    ]);
    expect(trained.code, trained.stderr).toBe(0);
    const evaluated = await runCli(['eval', '--run', path.join(root, 'c'), '--split', 'test', '--no-thumbnails']);
    expect(evaluated.code, evaluated.stderr).toBe(0);
  }, 180_000);
});
