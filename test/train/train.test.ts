// Training on a tiny generated run: the loss falls, padding is inert, resume equals an uninterrupted
// run, no tensor leaks per batch, and the trained model's predictions depend on the image.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { readCheckpoint } from '../../src/model/checkpoint.js';
import { loadCheckpoint } from '../../src/engine/decoder.js';
import { initialWeights, mergeLstm, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { MergeLstm } from '../../src/engine/tfjs-decoder.js';
import { SPECIAL_IDS } from '../../src/run/formats.js';
import { Adam } from '../../src/train/adam.js';
import { buildBatch, disposeBatch, planEpoch, toTensors } from '../../src/train/batches.js';
import { loadTrainingData } from '../../src/train/data.js';
import { lossAndGrads } from '../../src/train/objective.js';
import { runTrain, type TrainConfig } from '../../src/train/run.js';
import { setLogLevel } from '../../src/log.js';
import { tempDir } from '../helpers.js';
import { CLASSES, encoderIdentity, writeTinyRun } from './fixtures.js';

function config(runDir: string, over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    runDir,
    backend: 'wasm',
    decoder: 'merge',
    engine: 'tfjs', // the ONNX engine is checked against it in test/train/engines.test.ts
    labelSmoothing: 0,
    epochs: 3,
    batchSize: 8,
    learningRate: 0.01,
    clipNorm: 5,
    patience: 50,
    lrPatience: 50,
    lrFactor: 0.5,
    minLearningRate: 1e-5,
    embeddingSize: 8,
    hiddenSize: 16,
    dropout: 0.2,
    seed: 3,
    resume: false,
    logEveryBatches: 2,
    replicas: 1, // one thread per test file; the resume test below also trains with 2
    ...over,
  };
}

describe('capgen train (tiny run)', () => {
  beforeAll(async () => {
    setLogLevel({ quiet: true });
    await initBackend('wasm');
  });

  it('loss falls, checkpoints and history are written, and the model reads the image', async () => {
    const tiny = writeTinyRun(tempDir());
    const r = await runTrain(config(tiny.runDir, { epochs: 25 }), { openFeatures: tiny.openFeatures });
    const h = r.state.history;
    expect(h).toHaveLength(25);
    expect(h.at(-1)!.trainLoss).toBeLessThan(h[0].trainLoss * 0.5);
    expect(h.at(-1)!.valLoss!).toBeLessThan(h[0].valLoss!);
    const json = JSON.parse(readFileSync(path.join(tiny.runDir, 'train', 'history.json'), 'utf8'));
    expect(json.epochs).toHaveLength(25);
    expect(readFileSync(r.historyPng).subarray(1, 4).toString()).toBe('PNG');

    // After "<start> a", the next word names the image's class: two images of different
    // classes must get different distributions, each favouring its own class word.
    const { meta, model } = await loadCheckpoint(r.bestDir);
    expect(meta.epoch).toBe(r.state.bestEpoch);
    const imgs = ['img0.jpg', 'img7.jpg', 'img13.jpg', 'img19.jpg']; // classes 0..3
    const feats = tf.tensor2d(
      imgs.flatMap((n) => [...tiny.features.get(n)!]),
      [4, 16],
    );
    const s0 = model.initState(feats);
    const r1 = model.step(tf.tensor1d([1, 1, 1, 1], 'int32'), s0);
    const r2 = model.step(tf.tensor1d(Array(4).fill(meta.vocab.tokens.indexOf('a')), 'int32'), r1.state);
    const probs = r2.logProbs.exp().arraySync() as number[][];
    imgs.forEach((n, k) => {
      const best = probs[k].indexOf(Math.max(...probs[k]));
      expect(meta.vocab.tokens[best]).toBe(CLASSES[tiny.classOf.get(n)!]);
    });
    const l1 = probs[0].reduce((a, p, j) => a + Math.abs(p - probs[1][j]), 0);
    expect(l1).toBeGreaterThan(0.5);
    model.dispose();
  }, 60_000);

  it('padding changes neither the loss nor the gradient', async () => {
    const tiny = writeTinyRun(tempDir());
    const data = await loadTrainingData(tiny.runDir, tiny.openFeatures);
    const sizes: MergeLstmSizes = { vocabSize: tiny.vocab.tokens.length, embeddingSize: 6, hiddenSize: 8, featureSize: 16, dropout: 0 };
    const model = new MergeLstm(sizes, initialWeights(sizes, 1));
    const picks = [0, 1, 5, 9];
    const run = (extra: number) => {
      const b = toTensors(buildBatch(data.train, picks, data.features, data.featureSize, { extraPadding: extra }));
      const r = lossAndGrads(model, b, { labelSmoothing: 0 });
      const out = { loss: r.loss, grads: r.grads.map((g) => g.dataSync()) };
      tf.dispose(r.grads);
      disposeBatch(b);
      return out;
    };
    const a = run(0);
    const b = run(4);
    expect(b.loss).toBeCloseTo(a.loss, 6);
    a.grads.forEach((g, i) => g.forEach((v, j) => expect(b.grads[i][j]).toBeCloseTo(v, 6)));
    // ... and the padded batch really had more time steps.
    expect(buildBatch(data.train, picks, data.features, data.featureSize, { extraPadding: 4 }).timeSteps).toBe(
      buildBatch(data.train, picks, data.features, data.featureSize).timeSteps + 4,
    );
    model.dispose();
  });

  it('targets are the inputs shifted by one, ending with <end>', async () => {
    const tiny = writeTinyRun(tempDir());
    const data = await loadTrainingData(tiny.runDir, tiny.openFeatures);
    const hb = buildBatch(data.train, [0, 2], data.features, data.featureSize);
    const ids0 = [...data.train[0].ids];
    const rowsOf0 = [...hb.rows].map((row, k) => ({ row, k })).filter(({ k }) => hb.rowCaption[k] === 0);
    expect(rowsOf0.map(({ row }) => hb.inputs[row])).toEqual([SPECIAL_IDS.start, ...ids0]);
    expect(rowsOf0.map(({ k }) => hb.targets[k])).toEqual([...ids0, SPECIAL_IDS.end]);
  });

  it('batch plans are seeded, bucketed by length, and cover every caption once', async () => {
    const tiny = writeTinyRun(tempDir());
    const data = await loadTrainingData(tiny.runDir, tiny.openFeatures);
    const p1 = planEpoch(data.train, { batchSize: 8, seed: 1, epoch: 0, shuffle: true });
    expect(planEpoch(data.train, { batchSize: 8, seed: 1, epoch: 0, shuffle: true })).toEqual(p1);
    expect(planEpoch(data.train, { batchSize: 8, seed: 1, epoch: 1, shuffle: true })).not.toEqual(p1);
    expect(p1.flat().sort((a, b) => a - b)).toEqual(data.train.map((_, i) => i));
    const spread = p1.map((b) => new Set(b.map((i) => data.train[i].ids.length)).size);
    expect(spread.filter((s) => s > 1).length).toBeLessThanOrEqual(1); // at most the batch at a length boundary mixes
  });

  it('a training step leaks no tensors', async () => {
    const tiny = writeTinyRun(tempDir());
    const data = await loadTrainingData(tiny.runDir, tiny.openFeatures);
    const sizes: MergeLstmSizes = { vocabSize: tiny.vocab.tokens.length, embeddingSize: 6, hiddenSize: 8, featureSize: 16, dropout: 0.3 };
    const model = new MergeLstm(sizes, initialWeights(sizes, 1));
    const opt = new Adam(model.variables, { learningRate: 0.01, clipNorm: 1 });
    const step = () => {
      const b = toTensors(
        buildBatch(data.train, [0, 3, 4], data.features, data.featureSize, {
          dropout: { rate: 0.3, seed: 2, sites: mergeLstm.dropoutSites(sizes) },
        }),
      );
      const r = lossAndGrads(model, b, { labelSmoothing: 0 });
      opt.apply(r.grads);
      tf.dispose(r.grads);
      disposeBatch(b);
    };
    step();
    const before = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    model.dispose();
  });

  it('resuming from an interrupted run reaches the same weights as an uninterrupted one, whatever the replica count', async () => {
    const a = writeTinyRun(tempDir());
    const b = writeTinyRun(tempDir());
    await runTrain(config(a.runDir, { epochs: 2 }), { openFeatures: a.openFeatures });
    // 54 training captions = 7 batches per epoch: stop after the 2nd batch of the second epoch.
    let batches = 0;
    // The interrupted part runs data-parallel on 2 gradient replicas: the same model, up to float rounding.
    const stopped = await runTrain(config(b.runDir, { epochs: 2, replicas: 2 }), {
      openFeatures: b.openFeatures,
      shouldStop: () => ++batches === 9,
    });
    expect(stopped.interrupted).toBe(true);
    expect(stopped.state.epoch).toBe(1);
    expect(stopped.state.batch).toBe(2);
    const resumed = await runTrain(config(b.runDir, { epochs: 2, resume: true, seed: 999, batchSize: 3 }), {
      openFeatures: b.openFeatures,
    });
    expect(resumed.interrupted).toBe(false);
    const wa = await readCheckpoint(a.runDir + '/train/last');
    const wb = await readCheckpoint(b.runDir + '/train/last');
    expect(wb.meta.epoch).toBe(2);
    for (const name of Object.keys(wa.weights) as (keyof typeof wa.weights)[]) {
      const x = wa.weights[name];
      const y = wb.weights[name];
      let maxDiff = 0;
      for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x[i] - y[i]));
      expect(maxDiff, name).toBeLessThan(1e-5);
    }
    expect(wb.optimizer!.step).toBe(wa.optimizer!.step);
    expect(wb.meta.trainState!.history).toHaveLength(2);
  }, 60_000);

  it('refuses to resume on features from another encoder', async () => {
    const tiny = writeTinyRun(tempDir());
    await runTrain(config(tiny.runDir, { epochs: 1 }), { openFeatures: tiny.openFeatures });
    const prepFile = path.join(tiny.runDir, 'prepare.json');
    const prep = JSON.parse(readFileSync(prepFile, 'utf8'));
    prep.features.encoder = encoderIdentity({ weightsHash: 'other' });
    (await import('node:fs')).writeFileSync(prepFile, JSON.stringify(prep));
    await expect(runTrain(config(tiny.runDir, { epochs: 2, resume: true }), { openFeatures: tiny.openFeatures })).rejects.toMatchObject({
      code: 'MISMATCH',
    });
  });

  it('says what is missing when the run folder is not prepared', async () => {
    const dir = tempDir();
    await expect(runTrain(config(dir))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(existsSync(path.join(dir, 'train'))).toBe(false);
  });
});
