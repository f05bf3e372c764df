// Data-parallel steps (src/train/replicas.ts) and per-caption dropout masks (src/train/dropout.ts):
// splitting a batch changes neither the masks nor the update, and steps leak no tensors.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { initialWeights, mergeLstm, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { MergeLstm } from '../../src/engine/tfjs-decoder.js';
import { Adam } from '../../src/train/adam.js';
import { loadTrainingData, type TrainingData } from '../../src/train/data.js';
import { dropoutMasks } from '../../src/train/dropout.js';
import { shardPicks, startReplicas } from '../../src/train/replicas.js';
import { tempDir } from '../helpers.js';
import { writeTinyRun } from './fixtures.js';

describe('dropout masks', () => {
  it('are drawn per caption: a shard gets exactly its slice of the whole batch masks', () => {
    const spec = {
      rate: 0.4,
      seed: 11,
      sites: mergeLstm.dropoutSites({ vocabSize: 9, featureSize: 6, embeddingSize: 3, hiddenSize: 4, dropout: 0.4 }),
    };
    const whole = dropoutMasks(spec, { firstCaption: 0, batchSize: 5, timeSteps: 4 });
    const tail = dropoutMasks(spec, { firstCaption: 3, batchSize: 2, timeSteps: 2 });
    expect(Array.from(tail.features)).toEqual(Array.from(whole.features.subarray(3 * 6)));
    for (let t = 0; t < 2; t++)
      for (let b = 0; b < 2; b++)
        expect(Array.from(tail.embeddings.subarray((t * 2 + b) * 3, (t * 2 + b + 1) * 3))).toEqual(
          Array.from(whole.embeddings.subarray((t * 5 + 3 + b) * 3, (t * 5 + 4 + b) * 3)),
        );
    // Inverted dropout: 0 or 1/(1-rate), about `rate` of them zero.
    const all = [...whole.features, ...whole.embeddings];
    expect(new Set(all.map((v) => v.toFixed(4)))).toEqual(new Set(['0.0000', (1 / 0.6).toFixed(4)]));
    const dropped = all.filter((v) => v === 0).length / all.length;
    expect(dropped).toBeGreaterThan(0.2);
    expect(dropped).toBeLessThan(0.6);
    expect(Array.from(dropoutMasks({ ...spec, seed: 12 }, { firstCaption: 0, batchSize: 5, timeSteps: 4 }).features)).not.toEqual(
      Array.from(whole.features),
    );
  });

  it('shards are contiguous, nearly equal, and cover the batch', () => {
    expect(shardPicks([5, 6, 7, 8, 9], 2)).toEqual([
      { offset: 0, picks: [5, 6, 7] },
      { offset: 3, picks: [8, 9] },
    ]);
    expect(shardPicks([5], 3)).toEqual([{ offset: 0, picks: [5] }]);
  });
});

describe('gradient replicas', () => {
  let data: TrainingData;
  const sizes = (d: TrainingData): MergeLstmSizes => ({
    vocabSize: d.vocab.tokens.length,
    embeddingSize: 6,
    hiddenSize: 8,
    featureSize: d.featureSize,
    dropout: 0.3,
  });
  beforeAll(async () => {
    await initBackend('wasm', { threads: 1 });
    const tiny = writeTinyRun(tempDir());
    data = await loadTrainingData(tiny.runDir, tiny.openFeatures);
  });

  /** Three steps and a validation pass with `count` replicas: final weights, losses, validation. */
  async function train(count: number) {
    const model = new MergeLstm(sizes(data), initialWeights(sizes(data), 4));
    const optimizer = new Adam(model.variables, { learningRate: 0.01, clipNorm: 1 });
    const replicas = await startReplicas({ count, backend: 'wasm', model, optimizer, data, labelSmoothing: 0 });
    const picks = [
      [0, 1, 2, 3, 4, 5, 6],
      [7, 8, 9, 10],
      [11, 12, 13, 14, 15, 16, 17, 18],
    ];
    const losses: number[] = [];
    const before = tf.memory().numTensors;
    for (const [k, p] of picks.entries()) losses.push((await replicas.step(p, 100 + k)).loss);
    const leaked = tf.memory().numTensors - before;
    const val = await replicas.evaluate(data.dev, [
      [0, 1, 2],
      [3, 4],
      [5, 6, 7, 8],
    ]);
    await replicas.close();
    const weights = model.getWeights();
    model.dispose();
    return { weights, losses, val, leaked };
  }

  it('2 and 3 replicas train the same model as 1, up to float rounding, without leaking tensors', async () => {
    const one = await train(1);
    for (const count of [2, 3]) {
      const many = await train(count);
      expect(many.leaked).toBe(0);
      many.losses.forEach((l, i) => expect(l).toBeCloseTo(one.losses[i], 5));
      expect(many.val.tokens).toBe(one.val.tokens);
      expect(many.val.correct).toBe(one.val.correct);
      expect(many.val.lossSum / many.val.tokens).toBeCloseTo(one.val.lossSum / one.val.tokens, 5);
      for (const name of Object.keys(one.weights) as (keyof typeof one.weights)[]) {
        let maxDiff = 0;
        one.weights[name].forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - many.weights[name][i]))));
        expect(maxDiff, `${name} with ${count} replicas`).toBeLessThan(1e-5);
      }
    }
    expect(one.leaked).toBe(0);
    // The steps really trained: the loss moved.
    expect(one.losses[2]).not.toBeCloseTo(one.losses[0], 3);
  });
});
