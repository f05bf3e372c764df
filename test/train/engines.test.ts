// The training engines give the same results: the tfjs fast path (WASM/cpu: JS gates and loss), the
// tfjs-ops path that native backends (tfjs-node, tfjs-node-gpu) run, and the ONNX Runtime engine.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { initialWeights, mergeLstm, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { TfjsDecoder } from '../../src/engine/tfjs-decoder.js';
import { buildBatch, disposeBatch, toTensors } from '../../src/train/batches.js';
import { loadTrainingData, type TrainingData } from '../../src/train/data.js';
import { lossAndGrads } from '../../src/train/objective.js';
import { runTrain } from '../../src/train/run.js';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../../src/train/config.js';
import { readCheckpoint, lastCheckpointDir } from '../../src/model/checkpoint.js';
import { setLogLevel } from '../../src/log.js';
import { countReads, tempDir } from '../helpers.js';
import { writeTinyRun } from './fixtures.js';
import { maxAbsDiff } from '../engine/compare.js';

let data: TrainingData;
const sizesOf = (d: TrainingData): MergeLstmSizes => ({
  vocabSize: d.vocab.tokens.length,
  embeddingSize: 6,
  hiddenSize: 8,
  featureSize: d.featureSize,
  dropout: 0.3,
});

describe('training engines', () => {
  beforeAll(async () => {
    setLogLevel({ quiet: true });
    await initBackend('cpu');
    const tiny = writeTinyRun(tempDir());
    data = await loadTrainingData(tiny.runDir, tiny.openFeatures);
  });

  it('the tfjs-ops path (native backends) gives the fast path loss and gradients (1e-5) with one host read per step, whatever the length', () => {
    const sizes = sizesOf(data);
    const weights = initialWeights(sizes, 3);
    const results = [0, 4].map((extraPadding) => {
      const dropout = { rate: sizes.dropout, seed: 9, sites: mergeLstm.dropoutSites(sizes) };
      const host = buildBatch(data.train, [0, 3, 5, 8], data.features, data.featureSize, { dropout, extraPadding });
      const fast = new TfjsDecoder(mergeLstm, sizes, weights, { fused: true });
      const ops = new TfjsDecoder(mergeLstm, sizes, weights, { fused: false });
      const b = toTensors(host);
      const before = tf.memory().numTensors;
      const f = lossAndGrads(fast, b, { labelSmoothing: 0.1 });
      const o = countReads(() => lossAndGrads(ops, b, { labelSmoothing: 0.1, opsOnly: true }));
      const fg = f.grads.map((g) => g.dataSync() as Float32Array);
      const og = o.value.grads.map((g) => g.dataSync() as Float32Array);
      tf.dispose([...f.grads, ...o.value.grads]);
      expect(tf.memory().numTensors).toBe(before); // nothing leaked by either path
      disposeBatch(b);
      fast.dispose();
      ops.dispose();
      expect(Math.abs(f.loss - o.value.loss)).toBeLessThan(1e-5);
      expect(f.correct).toBe(o.value.correct);
      fg.forEach((g, k) => expect(maxAbsDiff(g, og[k]), mergeLstm.weightShapes(sizes)[k][0]).toBeLessThan(1e-5));
      return { timeSteps: host.timeSteps, reads: o.reads };
    });
    expect(results[1].timeSteps).toBeGreaterThan(results[0].timeSteps);
    // One read for [loss, correct], none per time step.
    expect(results.map((r) => r.reads)).toEqual([1, 1]);
  });

  function config(runDir: string, over: Partial<TrainConfig>): TrainConfig {
    return {
      ...DEFAULT_TRAIN_CONFIG,
      runDir,
      backend: 'cpu',
      epochs: 2,
      batchSize: 8,
      learningRate: 0.01,
      embeddingSize: 6,
      hiddenSize: 8,
      dropout: 0.3,
      replicas: 1,
      logEveryBatches: 100,
      ...over,
    };
  }

  it.skipIf(SKIP_ORT)('onnx and tfjs train the same model (1e-5 after 2 epochs), and a run resumes on the other engine', async () => {
    const trained = async (over: Partial<TrainConfig>, stopAfter?: number) => {
      const tiny = writeTinyRun(tempDir());
      let steps = 0;
      await runTrain(config(tiny.runDir, over), {
        openFeatures: tiny.openFeatures,
        shouldStop: () => stopAfter !== undefined && ++steps >= stopAfter,
      });
      return { tiny, read: () => readCheckpoint(lastCheckpointDir(tiny.runDir)) };
    };
    const onnx = await (await trained({ engine: 'onnx' })).read();
    const tfjs = await (await trained({ engine: 'tfjs' })).read();
    const names = Object.keys(onnx.weights);
    let worst = 0;
    for (const n of names) worst = Math.max(worst, maxAbsDiff(onnx.weights[n], tfjs.weights[n]));
    expect(worst).toBeLessThan(1e-5);
    expect(
      maxAbsDiff(onnx.weights['output.kernel'], initialWeights(sizesOf(data), DEFAULT_TRAIN_CONFIG.seed)['output.kernel']),
    ).toBeGreaterThan(1e-3);
    // Interrupted on onnx after 5 steps, resumed on tfjs: the same end point.
    const half = await trained({ engine: 'onnx' }, 5);
    await runTrain(config(half.tiny.runDir, { engine: 'tfjs', resume: true }), { openFeatures: half.tiny.openFeatures });
    const resumed = await half.read();
    worst = 0;
    for (const n of names) worst = Math.max(worst, maxAbsDiff(resumed.weights[n], tfjs.weights[n]));
    expect(worst).toBeLessThan(1e-5);
  });
});
