// Long batches on the ONNX engine run in shards of fewer captions (less memory per graph run); the
// shards' gradients must add up to the whole batch's, penalty and dropout included.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import type { BackendInfo } from '../../src/backend/index.js';
import { OnnxTrainer } from '../../src/engine/onnx/trainer.js';
import { attentionLstm } from '../../src/model/attention-lstm.js';
import { TINY_ATTENTION } from '../model/tiny-sizes.js';
import type { Example, TrainingData } from '../../src/train/data.js';
import { MemoryFeatureStore } from '../../src/train/feature-store.js';
import type { Adam } from '../../src/train/adam.js';
import { lengthShards, startTrainingEngine } from '../../src/train/step.js';
import { mulberry32 as seededRandom } from '../../src/util/random.js';
import { maxAbsDiff, randomWeights } from '../engine/compare.js';

describe('lengthShards', () => {
  const at = (timeSteps: number) => () => timeSteps;
  it('splits a batch of one length into ceil(timeSteps / max) shards of equal padded size, in order', () => {
    const picks = [9, 8, 7, 6, 5, 4, 3];
    expect(lengthShards(picks, at(16), 8, 16)).toEqual([{ picks, timeSteps: 16, padTo: 8 }]);
    expect(lengthShards(picks, at(24), 8, 16)).toEqual([
      { picks: [9, 8, 7, 6], timeSteps: 24, padTo: 4 },
      { picks: [5, 4, 3], timeSteps: 24, padTo: 4 },
    ]);
    expect(lengthShards(picks, at(40), 8, 16).map((s) => s.picks)).toEqual([[9, 8, 7], [6, 5, 4], [3]]);
  });

  it('gives each micro-batch its own length: short ones whole, long ones in smaller shards', () => {
    // picks are their own time steps: length-sorted, as self-critical samples are
    const picks = [8, 8, 8, 8, 8, 16, 16, 24, 24, 24, 40];
    expect(lengthShards(picks, (p) => p, 4, 16)).toEqual([
      { picks: [8, 8, 8, 8], timeSteps: 8, padTo: 4 },
      { picks: [8, 16, 16], timeSteps: 16, padTo: 4 }, // a 24 would allow 2 captions, not 4
      { picks: [24, 24], timeSteps: 24, padTo: 2 },
      { picks: [24, 40], timeSteps: 40, padTo: 2 }, // 40 steps: ceil(4 / 3) = 2 captions
    ]);
  });
});

const sizes = TINY_ATTENTION;

describe.skipIf(SKIP_ORT)('ONNX engine shards', () => {
  afterEach(() => vi.restoreAllMocks());

  it('a batch run in shards gives the loss, gradient norm and updated weights of the whole batch (1e-5)', async () => {
    const rand = seededRandom(3);
    const train: Example[] = Array.from({ length: 7 }, (_, i) => ({
      imageRow: i % 3,
      ids: Int32Array.from({ length: 2 + ((i * 5) % 9) }, () => 3 + Math.floor(rand() * 6)),
    }));
    const data = {
      train,
      dev: [],
      features: MemoryFeatureStore.fromMatrix(
        Float32Array.from({ length: 3 * sizes.featureSize }, () => rand() * 2 - 1),
        sizes.featureSize,
      ),
      featureSize: sizes.featureSize,
    } as unknown as TrainingData;
    const initialWeights = randomWeights(attentionLstm, sizes, 5);
    const runs = vi.spyOn(OnnxTrainer.prototype, 'run');
    const results = [];
    for (const fullBatchTimeSteps of [16, 4]) {
      runs.mockClear();
      const engine = await startTrainingEngine({
        choice: 'onnx',
        backend: { name: 'cpu' } as BackendInfo,
        spec: attentionLstm,
        sizes,
        initialWeights,
        adam: { learningRate: 0.01, clipNorm: 0 },
        data,
        batchSize: 8,
        labelSmoothing: 0.1,
        replicas: 1,
        fullBatchTimeSteps,
      });
      try {
        const steps = [];
        for (const seed of [1, 2]) {
          const r = await engine.step([0, 1, 2, 3, 4, 5, 6], seed);
          steps.push({ ...r, norm: (engine.optimizer as Adam).lastGradNorm }); // the onnx engine's optimizer is the host Adam
        }
        results.push({ steps, runs: runs.mock.calls.length, weights: structuredClone(engine.weights()) });
      } finally {
        await engine.close();
      }
    }
    const [whole, sharded] = results;
    expect(whole.runs).toBe(2); // one graph run per step
    // captions of 3..10 time steps, padded to 8 or 16; max 4: 8 steps allow 4 captions, 16 allow 2 ->
    // per step [0, 1, 2] at 8 steps, [3, 4] and [5, 6] at 16 (each shard at its own length)
    expect(sharded.runs).toBe(6);
    whole.steps.forEach((w, i) => {
      const s = sharded.steps[i];
      expect(s.count).toBe(w.count);
      expect(s.correct).toBe(w.correct);
      expect(Math.abs(s.loss - w.loss)).toBeLessThan(1e-5);
      expect(Math.abs(s.norm - w.norm) / w.norm).toBeLessThan(1e-5);
    });
    for (const name of Object.keys(whole.weights)) expect(maxAbsDiff(whole.weights[name], sharded.weights[name]), name).toBeLessThan(1e-5);
  });
});
