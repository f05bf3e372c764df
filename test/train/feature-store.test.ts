// train --feature-store (src/train/feature-store.ts): the disk store reads each batch's rows from the
// feature cache and trains bit-identically to the memory store, for every decoder; auto picks by the
// memory budget; the memory store keeps its rows in bounded typed arrays; --max-steps stops early.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_FILES, readCheckpoint } from '../../src/model/checkpoint.js';
import { openCacheWriter } from '../../src/features/cache.js';
import type { PrepareRecord } from '../../src/run/formats.js';
import { buildBatch, planEpoch } from '../../src/train/batches.js';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../../src/train/config.js';
import { loadTrainingData } from '../../src/train/data.js';
import {
  DiskFeatureStore,
  MemoryFeatureStore,
  READ_AHEAD_BATCHES,
  readAheadAfter,
  resolveFeatureStore,
  type StoredRows,
} from '../../src/train/feature-store.js';
import { openCachedFeatures } from '../../src/train/features.js';
import { runTrain } from '../../src/train/run.js';
import { setLogLevel } from '../../src/log.js';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { tempDir } from '../helpers.js';
import { writeTinyRun, type TinyRun } from './fixtures.js';

const SPATIAL = [2, 2, 6];

/** The tiny run with a real feature cache (rows written in a shuffled order, over several batches). */
async function runWithCache(opts: { featureShape?: number[]; cacheDtype: 'float32' | 'float16' }): Promise<TinyRun> {
  const tiny = writeTinyRun(tempDir('capgen-store-'), { featureShape: opts.featureShape });
  const prepare = JSON.parse(readFileSync(path.join(tiny.runDir, 'prepare.json'), 'utf8')) as PrepareRecord;
  const dim = [...tiny.features.values()][0].length;
  const writer = await openCacheWriter(path.join(tiny.runDir, prepare.features!.dir), {
    identity: prepare.features!.encoder,
    dtype: opts.cacheDtype,
    dim,
  });
  const names = [...tiny.features.keys()].reverse();
  for (let i = 0; i < names.length; i += 5) {
    const batch = names.slice(i, i + 5);
    const values = new Float32Array(batch.length * dim);
    batch.forEach((n, k) => values.set(tiny.features.get(n)!, k * dim));
    await writer.append(batch, values);
  }
  await writer.close();
  return tiny;
}

function config(runDir: string, over: Partial<TrainConfig>): TrainConfig {
  return {
    ...DEFAULT_TRAIN_CONFIG,
    runDir,
    backend: 'cpu',
    epochs: 2,
    batchSize: 8,
    learningRate: 0.01,
    embeddingSize: 8,
    hiddenSize: 16,
    attentionSize: 8,
    projectionSize: 8,
    width: 16,
    heads: 2,
    layers: 1,
    ffnSize: 32,
    dropout: 0.2,
    seed: 3,
    replicas: 1,
    logEveryBatches: 2,
    ...over,
  };
}

const bytesOf = (dir: string, file: string) => readFileSync(path.join(dir, file));

beforeAll(() => setLogLevel({ quiet: true }));

describe('train --feature-store disk trains bit-identically to memory', () => {
  const engine = SKIP_ORT ? 'tfjs' : 'onnx';
  const cases = [
    // Pooled float32 rows, on the tfjs engine with 2 gradient replicas (their batches and validation rounds).
    { decoder: 'merge', featureShape: undefined, cacheDtype: 'float32', over: { engine: 'tfjs', replicas: 2 } },
    // Spatial rows stored as float16, held as float16 (auto).
    { decoder: 'attention', featureShape: SPATIAL, cacheDtype: 'float16', over: { engine } },
    // Spatial rows stored as float32, held as float16 (auto): the disk store rounds them as memory does.
    { decoder: 'transformer', featureShape: SPATIAL, cacheDtype: 'float32', over: { engine } },
  ] as const;
  for (const c of cases) {
    it(`${c.decoder} (${c.cacheDtype} cache, ${c.over.engine} engine): the same weights, byte for byte`, async () => {
      const lastDirs: string[] = [];
      for (const featureStore of ['memory', 'disk'] as const) {
        const tiny = await runWithCache({ featureShape: c.featureShape, cacheDtype: c.cacheDtype });
        const r = await runTrain(config(tiny.runDir, { decoder: c.decoder, featureStore, ...c.over }));
        expect(r.interrupted).toBe(false);
        expect(r.state.history).toHaveLength(2);
        lastDirs.push(r.lastDir);
      }
      const [memory, disk] = lastDirs;
      expect(bytesOf(disk, CHECKPOINT_FILES.weights).equals(bytesOf(memory, CHECKPOINT_FILES.weights))).toBe(true);
      expect(bytesOf(disk, CHECKPOINT_FILES.optimizer).equals(bytesOf(memory, CHECKPOINT_FILES.optimizer))).toBe(true);
      const [a, b] = await Promise.all(lastDirs.map((d) => readCheckpoint(d)));
      const losses = (m: Record<string, number>) => [m.trainLoss, m.trainAccuracy, m.valLoss, m.valAccuracy];
      expect(losses(b.meta.metrics)).toEqual(losses(a.meta.metrics)); // validation losses too
    }, 120_000);
  }
});

describe('the feature stores', () => {
  it('disk loads no feature up front; its batches equal the memory store’s, float16 cache or not', async () => {
    for (const cacheDtype of ['float32', 'float16'] as const) {
      const tiny = await runWithCache({ featureShape: SPATIAL, cacheDtype });
      let gets = 0;
      const counting = async (dir: string, encoder: Parameters<typeof openCachedFeatures>[1]) => {
        const source = await openCachedFeatures(dir, encoder);
        return { ...source, get: (n: string) => (gets++, source.get(n)) };
      };
      for (const dtype of ['float32', 'float16'] as const) {
        gets = 0;
        const disk = await loadTrainingData(tiny.runDir, counting, { layout: 'spatial', dtype, store: 'disk' });
        expect(gets).toBe(0);
        expect(disk.features.kind).toBe('disk');
        const memory = await loadTrainingData(tiny.runDir, counting, { layout: 'spatial', dtype, store: 'memory' });
        expect(memory.features.kind).toBe('memory');
        expect(disk.images).toEqual(memory.images);
        const picks = [0, 3, 3, 17, 40];
        const fromDisk = buildBatch(
          disk.train,
          picks,
          await disk.features.rows(picks.map((p) => disk.train[p].imageRow)),
          disk.featureSize,
        );
        const fromMemory = buildBatch(memory.train, picks, memory.features, memory.featureSize);
        expect(Buffer.from(fromDisk.features.buffer).equals(Buffer.from(fromMemory.features.buffer))).toBe(true);
        // A single row read outside a batch (copyRow) is the same row too.
        const one = new Float32Array(disk.featureSize);
        disk.features.copyRow(disk.train[17].imageRow, one, 0);
        expect([...one]).toEqual([...fromMemory.features.subarray(3 * disk.featureSize, 4 * disk.featureSize)]);
        await disk.features.close();
      }
    }
  });

  it('the memory store keeps rows in blocks of bounded typed arrays, with the same batches', async () => {
    const tiny = await runWithCache({ featureShape: SPATIAL, cacheDtype: 'float32' });
    const whole = await loadTrainingData(tiny.runDir, openCachedFeatures, { layout: 'spatial', store: 'memory' });
    // 24 values a row: 2 rows per block of 50 elements.
    const blocks = await loadTrainingData(tiny.runDir, openCachedFeatures, { layout: 'spatial', store: 'memory', chunkElements: 50 });
    const store = blocks.features as MemoryFeatureStore;
    expect(store.byteLength).toBe((whole.features as MemoryFeatureStore).byteLength);
    const plan = planEpoch(whole.train, { batchSize: 8, seed: 1, epoch: 0, shuffle: true });
    for (const picks of plan) {
      const a = buildBatch(whole.train, picks, whole.features, whole.featureSize).features;
      const b = buildBatch(blocks.train, picks, blocks.features, blocks.featureSize).features;
      expect([...b]).toEqual([...a]);
    }
  });

  it('auto: memory while the rows fit the budget, disk past it; disk needs a feature cache', () => {
    const fits = resolveFeatureStore('auto', { matrixBytes: 2 ** 20, budgetBytes: 2 ** 21, budgetGiven: true, canReadRows: true });
    expect(fits.kind).toBe('memory');
    expect(fits.why).toMatch(/1\.0 MiB fit the budget of 2\.0 MiB \(--feature-memory-mb\)/);
    const over = resolveFeatureStore('auto', {
      matrixBytes: 13 * 2 ** 30,
      budgetBytes: 6 * 2 ** 30,
      budgetGiven: false,
      canReadRows: true,
    });
    expect(over.kind).toBe('disk');
    expect(over.why).toMatch(/13\.0 GiB exceed the budget of 6\.0 GiB \(a quarter of RAM/);
    // A source without positional reads (tests' in-memory maps) stays in memory under auto...
    expect(resolveFeatureStore('auto', { matrixBytes: 2 ** 30, budgetBytes: 1, budgetGiven: true, canReadRows: false }).kind).toBe(
      'memory',
    );
    // ...and cannot be asked for disk.
    expect(() => resolveFeatureStore('disk', { matrixBytes: 1, budgetBytes: 1, budgetGiven: true, canReadRows: false })).toThrow(
      /--feature-store disk needs the feature cache/,
    );
  });

  it('auto goes to disk when a run’s rows exceed --feature-memory-mb, and says why', async () => {
    const tiny = await runWithCache({ featureShape: SPATIAL, cacheDtype: 'float16' });
    const small = await loadTrainingData(tiny.runDir, openCachedFeatures, { layout: 'spatial', memoryBudgetBytes: 1024 });
    expect(small.features.kind).toBe('disk');
    expect(small.featureStoreWhy).toMatch(/exceed the budget of 0\.0 MiB \(--feature-memory-mb\)/);
    await small.features.close();
    const large = await loadTrainingData(tiny.runDir, openCachedFeatures, { layout: 'spatial', memoryBudgetBytes: 2 ** 20 });
    expect(large.features.kind).toBe('memory');
  });

  it('read-ahead: the rows of the next batches are read once, before they are asked for', async () => {
    const reads: number[][] = [];
    const file: StoredRows = {
      dtype: 'float32',
      rowBytes: 8,
      async readRows(rows, into) {
        reads.push([...rows]);
        rows.forEach((r, i) => new Float32Array(into.buffer, i * 8, 2).set([r, -r]));
      },
      readRowsSync() {
        throw new Error('not used');
      },
    };
    // Training row i is stored at row 100 + i.
    const store = new DiskFeatureStore(
      file,
      Int32Array.from({ length: 10 }, (_, i) => 100 + i),
      2,
      'float32',
    );
    const examples = Array.from({ length: 10 }, (_, i) => ({ imageRow: i }));
    const plan = [[0, 1], [2, 2, 3], [4], [5, 6]];
    readAheadAfter(store, examples, plan, 0);
    expect(reads).toEqual([[102, 103], [104]].slice(0, READ_AHEAD_BATCHES)); // a repeated image is read once
    const rows = await store.rows([2, 2, 3]);
    expect(reads).toHaveLength(READ_AHEAD_BATCHES); // served by the read-ahead: no new read
    const out = new Float32Array(2);
    rows.copyRow(3, out, 0);
    expect([...out]).toEqual([103, -103]);
    await store.rows([0, 1]); // never read ahead: read now
    expect(reads.at(-1)).toEqual([100, 101]);
    await store.close();
  });

  it('--max-steps stops after that many steps with a resumable checkpoint, not as an interruption', async () => {
    const tiny = await runWithCache({ cacheDtype: 'float32' });
    const r = await runTrain(config(tiny.runDir, { decoder: 'merge', engine: 'tfjs', featureStore: 'disk', maxSteps: 3 }));
    expect(r.interrupted).toBe(false);
    expect(r.state.epoch).toBe(0);
    expect(r.state.batch).toBe(3);
    const last = await readCheckpoint(r.lastDir);
    expect(last.optimizer!.step).toBe(3);
    expect(last.meta.trainConfig).not.toHaveProperty('maxSteps'); // a choice of this call, not of the model
    expect(last.meta.trainConfig).not.toHaveProperty('featureStore');
  }, 60_000);

  it('a run stopped by --max-steps on disk resumes in memory to the weights of an uninterrupted run', async () => {
    const whole = await runWithCache({ featureShape: SPATIAL, cacheDtype: 'float16' });
    const sliced = await runWithCache({ featureShape: SPATIAL, cacheDtype: 'float16' });
    const over = { decoder: 'attention', engine: 'tfjs' } as const;
    await runTrain(config(whole.runDir, { ...over, featureStore: 'memory' }));
    // 54 training captions in batches of 8 = 7 steps per epoch: stop inside the second epoch.
    const first = await runTrain(config(sliced.runDir, { ...over, featureStore: 'disk', maxSteps: 9 }));
    expect([first.state.epoch, first.state.batch]).toEqual([1, 2]);
    const rest = await runTrain(config(sliced.runDir, { ...over, featureStore: 'memory', resume: true }));
    expect(rest.state.epoch).toBe(2);
    const [a, b] = await Promise.all([whole, sliced].map((t) => readCheckpoint(path.join(t.runDir, 'train', 'last'))));
    for (const name of Object.keys(a.weights))
      expect(Buffer.from(b.weights[name].buffer).equals(Buffer.from(a.weights[name].buffer)), name).toBe(true);
  }, 60_000);
});
