// Gradient accumulation (train --accumulate N): a step of N micro-batches, their gradients summed and
// normalised by the whole step's scored words, then one Adam update, equals one step of the N-times
// larger batch: the same captions (the epoch plan is made at the step's size), the same dropout masks
// (drawn per caption), the same loss weights. Checked on every engine, one step and whole runs.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendInfo } from '../../src/backend/index.js';
import { setLogLevel } from '../../src/log.js';
import { lastCheckpointDir, readCheckpoint } from '../../src/model/checkpoint.js';
import { initialWeights, mergeLstm, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../../src/train/config.js';
import { loadTrainingData, type TrainingData } from '../../src/train/data.js';
import { DeviceAdam } from '../../src/train/adam-device.js';
import { TfjsDecoder } from '../../src/engine/tfjs-decoder.js';
import { microBatches, startReplicas } from '../../src/train/replicas.js';
import { runTrain } from '../../src/train/run.js';
import { startTrainingEngine, type EngineChoice } from '../../src/train/step.js';
import { maxAbsDiff } from '../engine/compare.js';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { tempDir } from '../helpers.js';
import { writeTinyRun } from './fixtures.js';

interface EngineCase {
  name: string;
  choice: Exclude<EngineChoice, 'auto'>;
  replicas: number;
}
const ENGINES: EngineCase[] = [
  ...(SKIP_ORT ? [] : [{ name: 'onnx', choice: 'onnx' as const, replicas: 1 }]),
  { name: 'tfjs, 1 replica', choice: 'tfjs', replicas: 1 },
  { name: 'tfjs, 2 replicas', choice: 'tfjs', replicas: 2 },
];

let data: TrainingData;
let backend: BackendInfo;
const sizesOf = (d: TrainingData): MergeLstmSizes => ({
  vocabSize: d.vocab.tokens.length,
  embeddingSize: 6,
  hiddenSize: 8,
  featureSize: d.featureSize,
  dropout: 0.3,
});

describe('gradient accumulation', () => {
  beforeAll(async () => {
    setLogLevel({ quiet: true });
    backend = await initBackend('cpu');
    const tiny = writeTinyRun(tempDir());
    data = await loadTrainingData(tiny.runDir, tiny.openFeatures);
  });

  it('micro-batches are consecutive slices that cover the step', () => {
    expect(microBatches([5, 1, 4, 2, 3], 2)).toEqual([
      { offset: 0, picks: [5, 1] },
      { offset: 2, picks: [4, 2] },
      { offset: 4, picks: [3] },
    ]);
  });

  it.each(ENGINES)('$name: 3 micro-batches of 2 captions = one batch of 6 (two Adam steps, with caption weights; 1e-5)', async (e) => {
    const sizes = sizesOf(data);
    const picks = [0, 7, 3, 12, 5, 9];
    const weights = [1, 2, 0, 1, 0.5, 1];
    const trainedWith = async (batchSize: number, stepWeights?: number[]) => {
      const engine = await startTrainingEngine({
        choice: e.choice,
        backend,
        spec: mergeLstm,
        sizes,
        initialWeights: initialWeights(sizes, 3),
        adam: { learningRate: 0.01, clipNorm: 5 },
        data,
        batchSize,
        labelSmoothing: 0.1,
        replicas: e.replicas,
      });
      try {
        const first = await engine.step(picks, 11, { weights: stepWeights });
        const second = await engine.step(picks, 12, { weights: stepWeights });
        const w = engine.weights();
        return {
          losses: [first.loss, second.loss],
          counts: [first.count, second.count],
          weights: Object.fromEntries(Object.entries(w).map(([n, a]) => [n, Float32Array.from(a)])),
        };
      } finally {
        await engine.close();
      }
    };
    const whole = await trainedWith(6, weights);
    const micro = await trainedWith(2, weights);
    expect(micro.counts).toEqual(whole.counts);
    micro.losses.forEach((l, i) => expect(Math.abs(l - whole.losses[i])).toBeLessThan(1e-5));
    for (const [n, w] of Object.entries(whole.weights)) expect(maxAbsDiff(micro.weights[n], w), n).toBeLessThan(1e-5);
    // The weights reached the step (the comparison can fail).
    const plain = await trainedWith(6);
    expect(maxAbsDiff(plain.weights['output.kernel'], whole.weights['output.kernel'])).toBeGreaterThan(1e-5);
  });

  it('tfjs on a native backend (the update on the device): the micro-batches sum their gradients there, = one batch (1e-5)', async () => {
    const sizes = sizesOf(data);
    const picks = [0, 7, 3, 12, 5, 9];
    const trainedWith = async (microBatchSize: number) => {
      const model = new TfjsDecoder(mergeLstm, sizes, initialWeights(sizes, 3));
      const optimizer = new DeviceAdam(model.variables, { learningRate: 0.01, clipNorm: 5 });
      const replicas = await startReplicas({ count: 1, backend: 'cpu', model, optimizer, data, labelSmoothing: 0.1, microBatchSize });
      const before = tf.memory().numTensors;
      await replicas.step(picks, 11, { weights: [1, 2, 0, 1, 0.5, 1] });
      await replicas.step(picks, 12);
      expect(tf.memory().numTensors).toBe(before); // the device sums are disposed
      const w = optimizer.currentWeights().map((a) => Float32Array.from(a));
      await replicas.close();
      optimizer.dispose();
      model.dispose();
      return w;
    };
    const whole = await trainedWith(6);
    const micro = await trainedWith(2);
    whole.forEach((w, k) => expect(maxAbsDiff(micro[k], w)).toBeLessThan(1e-5));
  });

  function config(runDir: string, over: Partial<TrainConfig>): TrainConfig {
    return {
      ...DEFAULT_TRAIN_CONFIG,
      runDir,
      backend: 'cpu',
      epochs: 2,
      learningRate: 0.01,
      embeddingSize: 6,
      hiddenSize: 8,
      dropout: 0.3,
      logEveryBatches: 100,
      ...over,
    };
  }

  it.each(ENGINES)('$name: train --batch-size 2 --accumulate 4 = --batch-size 8 (2 epochs, 1e-5), history included', async (e) => {
    const trained = async (over: Partial<TrainConfig>) => {
      const tiny = writeTinyRun(tempDir());
      const r = await runTrain(config(tiny.runDir, { engine: e.choice, replicas: e.replicas, ...over }), {
        openFeatures: tiny.openFeatures,
      });
      return { result: r, checkpoint: await readCheckpoint(lastCheckpointDir(tiny.runDir)) };
    };
    const whole = await trained({ batchSize: 8 });
    const micro = await trained({ batchSize: 2, accumulate: 4 });
    for (const [n, w] of Object.entries(whole.checkpoint.weights)) expect(maxAbsDiff(micro.checkpoint.weights[n], w), n).toBeLessThan(1e-5);
    const history = (c: typeof whole.checkpoint) =>
      (c.meta.trainState as unknown as { history: { trainLoss: number; valLoss: number }[] }).history;
    const h = history(micro.checkpoint);
    history(whole.checkpoint).forEach((r, i) => {
      expect(Math.abs(h[i].trainLoss - r.trainLoss)).toBeLessThan(1e-5);
      expect(Math.abs(h[i].valLoss - r.valLoss)).toBeLessThan(1e-5);
    });
    // Not the run of --batch-size 2 alone (the comparison can fail).
    const small = await trained({ batchSize: 2 });
    expect(maxAbsDiff(small.checkpoint.weights['output.kernel'], whole.checkpoint.weights['output.kernel'])).toBeGreaterThan(1e-4);
  });
});
