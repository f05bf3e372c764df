// Defect 2: a damaged feature cache was only a warning: after `truncate -s` of vectors.bin, train
// trained on the few images left (exit 0) and eval scored 1 of 20 images (exit 0). Now the cache is
// verified batch by batch when opened, train and eval refuse (exit 2) when more than a small share
// of a split has no usable feature, and `capgen prepare` repairs the cache.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { CACHE_FILES, openCacheWriter, openFeatureCache } from '../../src/features/cache.js';
import { checkFeatureCoverage, MAX_MISSING_FEATURE_SHARE } from '../../src/features/coverage.js';
import type { PrepareRecord } from '../../src/run/formats.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { encoderIdentity } from '../train/fixtures.js';
import { copyRun, expectOneLineError, prepareSynthetic, SMALL_TRAIN, trainedRun } from './fixtures.js';

async function vectorsFile(runDir: string): Promise<string> {
  const record = JSON.parse(await fs.readFile(path.join(runDir, 'prepare.json'), 'utf8')) as PrepareRecord;
  return path.join(runDir, record.features!.dir, CACHE_FILES.vectors);
}

describe('feature cache verification (unit)', () => {
  const root = tempDir('capgen-cache-verify-');

  it('a batch whose bytes changed (same size) is left out and counted; the others still load', async () => {
    const dir = path.join(root, 'c');
    const w = await openCacheWriter(dir, { identity: encoderIdentity({ featureShape: [2] }), dtype: 'float32', dim: 2 });
    await w.append(['a', 'b'], Float32Array.from([1, 2, 3, 4]));
    await w.append(['c'], Float32Array.from([5, 6]));
    await w.append(['d'], Float32Array.from([7, 8]));
    await w.close();
    const handle = await fs.open(path.join(dir, CACHE_FILES.vectors), 'r+');
    await handle.write(Buffer.from([0xff, 0xff]), 0, 2, 4 * 4); // inside row 2 ('c')
    await handle.close();
    const cache = await openFeatureCache(dir);
    expect(cache.damaged).toBe(1);
    expect(cache.names().sort()).toEqual(['a', 'b', 'd']);
    expect([...cache.get('d')!]).toEqual([7, 8]);
    cache.close();
    // Opening for writing (prepare) cuts the cache back to before the damage, to be recomputed.
    const repair = await openCacheWriter(dir, { identity: encoderIdentity({ featureShape: [2] }), dtype: 'float32', dim: 2 });
    expect(repair.repaired).toBe(1);
    expect(['a', 'b', 'c', 'd'].map((n) => repair.has(n))).toEqual([true, true, false, false]);
    await repair.close();
  });

  it('the coverage check warns below the limit with the count, and refuses above it', () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      checkFeatureCoverage([{ split: 'train', images: 1000, missing: 1000 * MAX_MISSING_FEATURE_SHARE }], {
        cacheDir: 'features/x',
        command: 'train',
      });
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(
        /warning: train: 10 of 1000 train images have no usable cached feature/,
      );
    } finally {
      stderr.mockRestore();
    }
    expect(() => checkFeatureCoverage([{ split: 'dev', images: 20, missing: 1 }], { cacheDir: 'features/x', command: 'eval' })).toThrow(
      /1 of 20 dev images have no usable cached feature/,
    );
  });
});

describe.skipIf(!existsSync(BIN))('a damaged feature cache (CLI)', () => {
  const root = tempDir('capgen-cache-damage-');

  it('truncated vectors.bin: train and eval exit 2 with the count and the way out; prepare repairs it', async () => {
    const run = await copyRun(await trainedRun(path.join(root, 'base')), path.join(root, 'cut'));
    await fs.truncate(await vectorsFile(run), 20_000); // 4 of 40 feature rows of 1216 floats survive
    const train = await runCli(['train', '--run', run, '--resume', '--epochs', '2']);
    expectOneLineError(train, /of 32 train images have no usable cached feature .*damaged or incomplete.*rerun the same `capgen prepare`/);
    const evaluated = await runCli(['eval', '--run', run, '--split', 'test']);
    expectOneLineError(evaluated, /of 4 test images have no usable cached feature/);
    expect(existsSync(path.join(run, 'eval'))).toBe(false);

    const repaired = await runCli(['prepare', '--dataset', 'synthetic', '--count', '40', '--seed', '1', '--out', run]);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stderr).toMatch(/features: \d+ computed, \d+ reused/);
    const again = await runCli(['train', '--run', run, '--resume', '--epochs', '2']);
    expect(again.code, again.stderr).toBe(0);
  }, 120_000);

  it('bytes changed in place (same size) are caught by the batch hashes', async () => {
    const run = path.join(root, 'flipped');
    await prepareSynthetic(run, ['--batch-size', '4']);
    const file = await vectorsFile(run);
    const handle = await fs.open(file, 'r+');
    const size = (await handle.stat()).size;
    await handle.write(Buffer.alloc(size / 2, 0x7f), 0, size / 2, 0); // the first half of the rows
    await handle.close();
    expect((await fs.stat(file)).size).toBe(size);
    expectOneLineError(await runCli(['train', '--run', run, '--epochs', '1', ...SMALL_TRAIN]), /have no usable cached feature/);
  }, 120_000);
});
