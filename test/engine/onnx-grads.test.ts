// The ONNX Runtime training engine against tfjs' autodiff of the same decoder (test/engine/compare.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { mergeLstm } from '../../src/model/merge-lstm.js';
import type { Example } from '../../src/train/data.js';
import { OnnxTrainer } from '../../src/engine/onnx/trainer.js';
import { buildBatch } from '../../src/train/batches.js';
import { compareEngines, expectEnginesEqual, maxAbsDiff, randomWeights } from './compare.js';

const examples: Example[] = [
  { imageRow: 0, ids: Int32Array.from([4, 5, 6]) },
  { imageRow: 1, ids: Int32Array.from([7]) },
  { imageRow: 2, ids: Int32Array.from([8, 4, 5, 6, 7]) },
  { imageRow: 1, ids: Int32Array.from([3, 3]) },
];
const sizes = { vocabSize: 9, embeddingSize: 3, hiddenSize: 4, featureSize: 5, dropout: 0.3 };

describe.skipIf(SKIP_ORT)('onnx training engine', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('merge-lstm: loss and gradients equal tfjs autodiff (1e-5), padding captions included', async () => {
    expectEnginesEqual(await compareEngines(mergeLstm, sizes, { examples, featureRows: 3, seed: 7 }), expect);
  });

  it('merge-lstm with label smoothing: gradients equal tfjs autodiff of the smoothed loss', async () => {
    const smoothed = await compareEngines(mergeLstm, sizes, { examples, featureRows: 3, seed: 7, labelSmoothing: 0.1 });
    expectEnginesEqual(smoothed, expect);
    // ...and smoothing really changed them (the comparison can fail).
    const plain = await compareEngines(mergeLstm, sizes, { examples, featureRows: 3, seed: 7 });
    expect(maxAbsDiff(plain.onnx.grads[0], smoothed.onnx.grads[0])).toBeGreaterThan(1e-4);
  });

  it('a graph that runs often gets a memory arena (8th run on), a rare one never (even past 8 runs); the results stay the same', async () => {
    const plain = { ...sizes, dropout: 0 }; // no masks to draw: the same batch twice is the same step
    const trainer = new OnnxTrainer(mergeLstm, plain, { batchSize: 4, labelSmoothing: 0, threads: 1 });
    const weights = mergeLstm.weightShapes(plain).map(([name]) => randomWeights(mergeLstm, plain, 3)[name]);
    const features = Float32Array.from({ length: 3 * sizes.featureSize }, (_, i) => Math.sin(i));
    const common = buildBatch(examples, [0, 1, 3], features, sizes.featureSize, { padTo: 4 });
    const rare = buildBatch(examples, [2], features, sizes.featureSize, { padTo: 4 });
    expect(rare.timeSteps).not.toBe(common.timeSteps);
    const grads = () => weights.map((w) => new Float32Array(w.length));
    const first = grads();
    const firstLoss = (await trainer.run(weights, common, first)).loss;
    await trainer.run(weights, rare, grads());
    for (let i = 2; i < 8; i++) await trainer.run(weights, common, grads());
    expect(trainer.arenaGraphs).toEqual([]);
    const eighth = grads();
    const eighthLoss = (await trainer.run(weights, common, eighth)).loss; // reopened with an arena
    expect(trainer.arenaGraphs).toEqual([`train:4x${common.timeSteps}`]);
    expect(eighthLoss).toBe(firstLoss);
    first.forEach((g, k) => expect(maxAbsDiff(g, eighth[k])).toBe(0));
    // Over many epochs a rare length also reaches 8 runs; under 5% of the runs, it still gets no arena.
    for (let i = 0; i < 400; i++) await trainer.run(weights, i % 40 === 0 ? rare : common, grads()); // rare: 11 runs of ~410
    expect(trainer.arenaGraphs).toEqual([`train:4x${common.timeSteps}`]);
    await trainer.close();
  });
});
