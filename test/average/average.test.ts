// `capgen average`: the mean of checkpoints' weights, written as a checkpoint that loads like any
// other; checkpoints of different models, and an --out that would overwrite something, are refused.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAverage } from '../../src/average/run.js';
import { readCheckpoint, saveCheckpoint } from '../../src/model/checkpoint.js';
import type { Weights } from '../../src/model/decoder.js';
import { initialWeights, WEIGHT_NAMES, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { DEFAULT_CLEANING } from '../../src/text/clean.js';
import { runCli, tempDir } from '../helpers.js';
import { encoderIdentity } from '../train/fixtures.js';

const sizes: MergeLstmSizes = { vocabSize: 11, embeddingSize: 4, hiddenSize: 6, featureSize: 5, dropout: 0.5 };
const vocab = {
  tokens: ['<pad>', '<start>', '<end>', '<unk>', ...'abcdefg'.split('')],
  specials: { pad: 0, start: 1, end: 2, unk: 3 } as const,
  minCount: 1,
};

async function writeCheckpoint(dir: string, seed: number, over: Partial<MergeLstmSizes> = {}) {
  const s = { ...sizes, ...over };
  const weights = initialWeights(s, seed);
  await saveCheckpoint(dir, {
    meta: {
      architecture: 'merge-lstm',
      ...s,
      vocab,
      cleaning: DEFAULT_CLEANING,
      encoder: encoderIdentity(),
      maxCaptionLength: 9,
      trainConfig: { batchSize: 4 },
      epoch: seed,
      metrics: { valLoss: 1.5 },
      createdAt: 'now',
    },
    weights,
    optimizer: { step: 3, m: WEIGHT_NAMES.map((n) => weights[n]), v: WEIGHT_NAMES.map((n) => weights[n]) },
  });
  return weights;
}

describe('capgen average', () => {
  it('writes the mean of the weights, records its sources, and leaves the optimizer state out', async () => {
    const dir = tempDir();
    const ws: Weights[] = [];
    for (const seed of [1, 2, 5]) ws.push(await writeCheckpoint(path.join(dir, `e${seed}`), seed));
    const out = path.join(dir, 'average');
    const r = await runAverage({ checkpoints: ['e1', 'e2', 'e5'].map((e) => path.join(dir, e)), outDir: out, overwrite: false });
    expect(r.sources.map((s) => s.epoch)).toEqual([1, 2, 5]);
    const back = await readCheckpoint(out);
    for (const n of WEIGHT_NAMES) {
      const mean = Float32Array.from(ws[0][n], (x, i) => (x + ws[1][n][i] + ws[2][n][i]) / 3);
      back.weights[n].forEach((x, i) => expect(x).toBeCloseTo(mean[i], 6));
    }
    expect(back.meta.epoch).toBe(5);
    expect(back.meta.averagedFrom?.map((s) => s.epoch)).toEqual([1, 2, 5]);
    expect(back.meta.metrics).toEqual({});
    expect(back.optimizer).toBeUndefined();
    expect(back.meta.trainState).toBeUndefined();
  });

  it('refuses checkpoints of different models (exit 2, naming the file), one checkpoint, and an existing --out', async () => {
    const dir = tempDir();
    await writeCheckpoint(path.join(dir, 'a'), 1);
    await writeCheckpoint(path.join(dir, 'b'), 2, { hiddenSize: 7 });
    const out = path.join(dir, 'out');
    const mixed = await runCli(['average', path.join(dir, 'a'), path.join(dir, 'b'), '--out', out]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain(path.join(dir, 'b', 'checkpoint.json'));
    expect(mixed.stderr).toMatch(/not the same model/);
    expect(existsSync(out)).toBe(false);
    await expect(runAverage({ checkpoints: [path.join(dir, 'a')], outDir: out, overwrite: false })).rejects.toMatchObject({
      code: 'USAGE',
    });
    await expect(
      runAverage({ checkpoints: [path.join(dir, 'a'), path.join(dir, 'a')], outDir: path.join(dir, 'a'), overwrite: true }),
    ).rejects.toMatchObject({ code: 'USAGE' });
    await expect(
      runAverage({ checkpoints: [path.join(dir, 'a'), path.join(dir, 'a')], outDir: path.join(dir, 'b'), overwrite: false }),
    ).rejects.toMatchObject({
      code: 'USAGE',
    });
    // With --overwrite it replaces the folder: the average of a with itself is a.
    await runAverage({ checkpoints: [path.join(dir, 'a'), path.join(dir, 'a')], outDir: path.join(dir, 'b'), overwrite: true });
    const [a, b] = await Promise.all([readCheckpoint(path.join(dir, 'a')), readCheckpoint(path.join(dir, 'b'))]);
    for (const n of WEIGHT_NAMES) expect(b.weights[n]).toEqual(a.weights[n]);
  });

  it('--run: averages the kept epochs of a run folder into <run>/train/average; named checkpoints need --out or --run', async () => {
    const dir = tempDir();
    const run = path.join(dir, 'run');
    for (const epoch of [9, 10, 11])
      await writeCheckpoint(path.join(run, 'train', 'epochs', `epoch-${String(epoch).padStart(3, '0')}`), epoch);
    const r = await runCli(['average', '--run', run]);
    expect(r.code, r.stderr).toBe(0);
    const back = await readCheckpoint(path.join(run, 'train', 'average'));
    expect(back.meta.averagedFrom?.map((s) => path.basename(s.checkpoint))).toEqual(['epoch-009', 'epoch-010', 'epoch-011']);

    const named = await runCli(
      ['average', path.join(run, 'train', 'epochs', 'epoch-009'), path.join(run, 'train', 'epochs', 'epoch-010')],
      { cwd: dir },
    );
    expect(named.code).toBe(2);
    expect(named.stderr).toMatch(/say where the averaged checkpoint goes.*--out DIR, or --run RUN/s);
    expect(existsSync(path.join(dir, 'artifacts'))).toBe(false);

    const empty = await runCli(['average', '--run', path.join(dir, 'untrained')]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/holds no kept epochs to average.*--keep-epochs/s);
  });
});
