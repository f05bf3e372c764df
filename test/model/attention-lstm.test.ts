// The soft-attention LSTM (src/model/attention-lstm.ts): against a plain-array computation of the same
// network, its ONNX engine gradients against tfjs autodiff, padding, step-by-step decoding, and tiny
// training runs on both engines (loss falls, the image matters, resume equals an uninterrupted run).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { attentionLstm, type AttentionLstmSizes } from '../../src/model/attention-lstm.js';
import { readCheckpoint } from '../../src/model/checkpoint.js';
import { loadCheckpoint } from '../../src/engine/decoder.js';
import type { Weights } from '../../src/model/decoder.js';
import { mulberry32 as seededRandom } from '../../src/util/random.js';
import { TfjsDecoder } from '../../src/engine/tfjs-decoder.js';
import { setLogLevel } from '../../src/log.js';
import { Adam } from '../../src/train/adam.js';
import { buildBatch, disposeBatch, toTensors } from '../../src/train/batches.js';
import { lossAndGrads } from '../../src/train/objective.js';
import type { Example } from '../../src/train/data.js';
import { runTrain, type TrainConfig } from '../../src/train/run.js';
import { tempDir } from '../helpers.js';
import { compareEngines, expectEnginesEqual, maxAbsDiff, randomWeights, tfjsLossAndGrads } from '../engine/compare.js';
import { CLASSES, writeTinyRun } from '../train/fixtures.js';
import { TINY_ATTENTION } from './tiny-sizes.js';

const base: AttentionLstmSizes = TINY_ATTENTION;
const R = 4;
const examples: Example[] = [
  { imageRow: 0, ids: Int32Array.from([4, 5, 6]) },
  { imageRow: 1, ids: Int32Array.from([7]) },
  { imageRow: 2, ids: Int32Array.from([8, 4, 5, 6, 7]) },
  { imageRow: 1, ids: Int32Array.from([3, 3]) },
];
const rand = seededRandom(11);
const feats = Float32Array.from({ length: 3 * base.featureSize }, () => rand() * 2 - 1);

// --- reference: plain arrays, one caption at a time ---
const sig = (x: number) => 1 / (1 + Math.exp(-x));
/** x [in] times kernel [in, out] (+ bias). */
function vecMat(x: number[], k: Float32Array, out: number, bias?: Float32Array): number[] {
  const y: number[] = [];
  for (let j = 0; j < out; j++) {
    let s = bias ? bias[j] : 0;
    for (let i = 0; i < x.length; i++) s += x[i] * k[i * out + j];
    y.push(s);
  }
  return y;
}
const softmax = (v: number[]) => {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, x) => a + x, 0);
  return e.map((x) => x / s);
};
const logSoftmax = (v: number[]) => softmax(v).map(Math.log);

function reference(s: AttentionLstmSizes, w: Weights, feature: Float32Array, tokens: number[]): { logits: number[][]; alphas: number[][] } {
  const { hiddenSize: H, embeddingSize: E, attentionSize: A, channels: C } = s;
  const D = s.projectionSize || C;
  let regions: number[][] = [];
  for (let r = 0; r < R; r++) regions.push([...feature.subarray(r * C, r * C + C)]);
  if (s.projectionSize) regions = regions.map((f) => vecMat(f, w['projection.kernel'], D, w['projection.bias']).map((x) => Math.max(0, x)));
  const mean = new Array(D).fill(0).map((_, j) => regions.reduce((a, f) => a + f[j], 0) / R);
  let h = vecMat(mean, w['init.h.kernel'], H, w['init.h.bias']).map(Math.tanh);
  let c = vecMat(mean, w['init.c.kernel'], H, w['init.c.bias']).map(Math.tanh);
  const keys = regions.map((f) => vecMat(f, w['attention.feature.kernel'], A, w['attention.feature.bias']));
  const logits: number[][] = [];
  const alphas: number[][] = [];
  for (const tok of tokens) {
    const q = vecMat(h, w['attention.hidden.kernel'], A);
    const scores = keys.map((k) => k.reduce((acc, kv, a) => acc + w['attention.score'][a] * Math.tanh(kv + q[a]), 0));
    const alpha = softmax(scores);
    const beta = sig(vecMat(h, w['gate.kernel'], 1, w['gate.bias'])[0]);
    const z = new Array(D).fill(0).map((_, j) => beta * regions.reduce((a, f, r) => a + alpha[r] * f[j], 0));
    const x = [...w.embedding.subarray(tok * E, tok * E + E)];
    const gx = vecMat(x, w['lstm.kernel'], 4 * H, w['lstm.bias']);
    const gz = vecMat(z, w['lstm.context'], 4 * H);
    const gh = vecMat(h, w['lstm.recurrent'], 4 * H);
    const g = gx.map((v, i) => v + gz[i] + gh[i]);
    const nc: number[] = [];
    const nh: number[] = [];
    for (let j = 0; j < H; j++) {
      nc.push(sig(g[H + j]) * c[j] + sig(g[j]) * Math.tanh(g[2 * H + j]));
      nh.push(sig(g[3 * H + j]) * Math.tanh(nc[j]));
    }
    h = nh;
    c = nc;
    const dh = vecMat(h, w['deep.hidden.kernel'], E);
    const dz = vecMat(z, w['deep.context.kernel'], E);
    const deep = x.map((v, j) => Math.tanh(v + dh[j] + dz[j] + w['deep.bias'][j]));
    logits.push(vecMat(deep, w['output.kernel'], s.vocabSize, w['output.bias']));
    alphas.push(alpha);
  }
  return { logits, alphas };
}

/** lambda * sum over captions and regions of (1 - sum over the caption's steps of alpha)^2 / scored words. */
function referencePenalty(s: AttentionLstmSizes, w: Weights, exs: Example[]): number {
  let total = 0;
  let words = 0;
  for (const e of exs) {
    const { alphas } = reference(s, w, feats.subarray(e.imageRow * s.featureSize, (e.imageRow + 1) * s.featureSize), [1, ...e.ids]);
    words += alphas.length;
    for (let r = 0; r < R; r++) total += (1 - alphas.reduce((a, al) => a + al[r], 0)) ** 2;
  }
  return (s.attentionPenalty * total) / words;
}

function trainConfig(runDir: string, over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    runDir,
    backend: 'wasm',
    decoder: 'attention',
    engine: 'onnx',
    labelSmoothing: 0,
    epochs: 2,
    batchSize: 8,
    learningRate: 0.01,
    clipNorm: 5,
    patience: 50,
    lrPatience: 50,
    lrFactor: 0.5,
    minLearningRate: 1e-5,
    embeddingSize: 8,
    hiddenSize: 16,
    attentionSize: 8,
    projectionSize: 8,
    dropout: 0.2,
    seed: 3,
    resume: false,
    logEveryBatches: 2,
    replicas: 1,
    ...over,
  };
}
const SPATIAL = [2, 2, 6];

describe('attention-lstm', () => {
  beforeAll(async () => {
    setLogLevel({ quiet: true });
    await initBackend('wasm');
  });

  for (const projectionSize of [3, 0]) {
    it(`teacher-forced logits and the penalty match the plain-array network (projection ${projectionSize || 'none'})`, () => {
      const sizes = { ...base, projectionSize };
      const weights = randomWeights(attentionLstm, sizes, 3);
      const model = new TfjsDecoder(attentionLstm, sizes, weights);
      const host = buildBatch(examples, [0, 1, 2, 3], feats, sizes.featureSize);
      const b = toTensors(host, attentionLstm.featureShape(sizes));
      const [got, penalty] = tf.tidy(() => {
        const out = model.forward(b, { training: false });
        return [out.logits.arraySync() as number[][], out.penalty!.dataSync()[0]];
      });
      expect(got.length).toBe(4 + 2 + 6 + 3);
      const refs = examples.map((e) =>
        reference(sizes, weights, feats.subarray(e.imageRow * sizes.featureSize, (e.imageRow + 1) * sizes.featureSize), [1, ...e.ids]),
      );
      host.rows.forEach((row, k) => {
        const want = refs[host.rowCaption[k]].logits[Math.floor(row / host.batchSize)];
        want.forEach((v, j) => expect(got[k][j]).toBeCloseTo(v, 5));
      });
      expect(penalty).toBeGreaterThan(0.01);
      expect(penalty).toBeCloseTo(referencePenalty(sizes, weights, examples), 5);
      disposeBatch(b);
      model.dispose();
    });
  }

  it('step-by-step decoding gives the teacher-forced log-probabilities; attention is a distribution over the regions; no leaks', () => {
    const weights = randomWeights(attentionLstm, base, 4);
    const model = new TfjsDecoder(attentionLstm, base, weights);
    const host = buildBatch(examples, [0, 2], feats, base.featureSize);
    const b = toTensors(host, attentionLstm.featureShape(base));
    const forced = tf.tidy(() => tf.logSoftmax(model.logits(b, { training: false })).arraySync() as number[][]);
    disposeBatch(b);
    const before = tf.memory().numTensors;
    // Both captions at once, as search runs them; features flat [B, R*C], as eval passes them.
    const features = tf.tensor2d(
      [...feats.subarray(0, base.featureSize), ...feats.subarray(2 * base.featureSize, 3 * base.featureSize)],
      [2, base.featureSize],
    );
    let state = model.initState(features);
    const tokens = [
      [1, 4, 5, 6],
      [1, 8, 4, 5],
    ];
    const ref = reference(base, weights, feats.subarray(0, base.featureSize), tokens[0]);
    for (let t = 0; t < 4; t++) {
      const tok = tf.tensor1d([tokens[0][t], tokens[1][t]], 'int32');
      const r = model.step(tok, state, t);
      const lp = r.logProbs.arraySync() as number[][];
      const attention = r.attention!.arraySync() as number[][];
      for (let k = 0; k < 2; k++) {
        const row = [...host.rows].findIndex((flat, i) => host.rowCaption[i] === k && Math.floor(flat / host.batchSize) === t);
        forced[row].forEach((v, j) => expect(lp[k][j]).toBeCloseTo(v, 5));
        expect(attention[k]).toHaveLength(R);
        expect(attention[k].reduce((a, x) => a + x, 0)).toBeCloseTo(1, 6);
        for (const x of attention[k]) expect(x).toBeGreaterThan(0);
      }
      ref.alphas[t].forEach((v, r) => expect(attention[0][r]).toBeCloseTo(v, 6));
      logSoftmax(ref.logits[t]).forEach((v, j) => expect(lp[0][j]).toBeCloseTo(v, 5));
      tf.dispose([tok, r.logProbs, r.attention!, ...state]);
      state = r.state;
    }
    tf.dispose([...state, features]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('padding captions and extra time steps change neither the loss, the penalty nor any gradient', () => {
    const weights = randomWeights(attentionLstm, base, 5);
    const dropout = { rate: base.dropout, seed: 9, sites: attentionLstm.dropoutSites(base) };
    const picks = [0, 1, 2, 3];
    const plain = buildBatch(examples, picks, feats, base.featureSize, { dropout });
    const padded = buildBatch(examples, picks, feats, base.featureSize, { dropout, padTo: 7, extraPadding: 3 });
    expect(padded.batchSize).toBe(7);
    expect(padded.timeSteps).toBe(plain.timeSteps + 3);
    const a = tfjsLossAndGrads(attentionLstm, base, weights, plain, { labelSmoothing: 0 });
    const b = tfjsLossAndGrads(attentionLstm, base, weights, padded, { labelSmoothing: 0 });
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-6);
    a.grads.forEach((g, k) => expect(maxAbsDiff(g, b.grads[k]), a.names[k]).toBeLessThan(1e-6));
    const model = new TfjsDecoder(attentionLstm, base, weights);
    const penaltyOf = (h: typeof plain) => {
      const t = toTensors(h, attentionLstm.featureShape(base));
      const p = tf.tidy(() => model.forward(t, { training: true }).penalty!.dataSync()[0]);
      disposeBatch(t);
      return p;
    };
    expect(penaltyOf(padded)).toBeCloseTo(penaltyOf(plain), 6);
    expect(penaltyOf(plain)).toBeCloseTo(referencePenalty(base, weights, examples), 5);
    model.dispose();
  });

  it('a tfjs training step (loss, penalty, gradients, Adam) leaks no tensors', () => {
    const model = new TfjsDecoder(attentionLstm, base, randomWeights(attentionLstm, base, 6));
    const opt = new Adam(model.variables, { learningRate: 0.01, clipNorm: 1 });
    const step = () => {
      const b = toTensors(
        buildBatch(examples, [0, 2, 3], feats, base.featureSize, {
          dropout: { rate: 0.3, seed: 2, sites: attentionLstm.dropoutSites(base) },
        }),
        attentionLstm.featureShape(base),
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

  describe.skipIf(SKIP_ORT)('onnx engine', () => {
    it('loss and gradients equal tfjs autodiff (1e-5) with the penalty, dropout and padding captions', async () => {
      const r = await compareEngines(attentionLstm, base, { examples, featureRows: 3, seed: 7 });
      expectEnginesEqual(r, expect);
      // The penalty is in those gradients: without it the attention weights get other ones.
      const none = await compareEngines(attentionLstm, { ...base, attentionPenalty: 0 }, { examples, featureRows: 3, seed: 7 });
      const k = none.ref.names.indexOf('attention.score');
      expect(maxAbsDiff(none.onnx.grads[k], r.onnx.grads[k])).toBeGreaterThan(1e-4);
    });

    it('without projection and without dropout, gradients still equal tfjs autodiff', async () => {
      expectEnginesEqual(
        await compareEngines(
          attentionLstm,
          { ...base, projectionSize: 0, dropout: 0, attentionPenalty: 1 },
          { examples, featureRows: 3, seed: 8 },
        ),
        expect,
      );
    });
  });

  describe.skipIf(SKIP_ORT)('training (tiny spatial run)', () => {
    it('onnx engine: the loss falls and the next word after "a" names the class seen in one region', async () => {
      const tiny = writeTinyRun(tempDir(), { featureShape: SPATIAL });
      const r = await runTrain(trainConfig(tiny.runDir, { epochs: 30 }), { openFeatures: tiny.openFeatures });
      const h = r.state.history;
      expect(h.at(-1)!.trainLoss).toBeLessThan(h[0].trainLoss * 0.5);
      expect(h.at(-1)!.valLoss!).toBeLessThan(h[0].valLoss!);
      const { meta, model } = await loadCheckpoint(r.bestDir);
      expect(meta.architecture).toBe('attention-lstm');
      const imgs = ['img0.jpg', 'img7.jpg', 'img13.jpg', 'img19.jpg']; // classes 0..3
      const size = SPATIAL.reduce((a, d) => a * d, 1);
      const features = tf.tensor2d(
        imgs.flatMap((n) => [...tiny.features.get(n)!]),
        [4, size],
      );
      const s0 = model.initState(features);
      const r1 = model.step(tf.tensor1d([1, 1, 1, 1], 'int32'), s0, 0);
      const r2 = model.step(tf.tensor1d(Array(4).fill(meta.vocab.tokens.indexOf('a')), 'int32'), r1.state, 1);
      const probs = r2.logProbs.exp().arraySync() as number[][];
      imgs.forEach((n, k) => {
        const best = probs[k].indexOf(Math.max(...probs[k]));
        expect(meta.vocab.tokens[best]).toBe(CLASSES[tiny.classOf.get(n)!]);
      });
      model.dispose();
    }, 120_000);

    it('tfjs engine: the loss falls too', async () => {
      const tiny = writeTinyRun(tempDir(), { featureShape: SPATIAL });
      const r = await runTrain(trainConfig(tiny.runDir, { epochs: 4, engine: 'tfjs' }), { openFeatures: tiny.openFeatures });
      const h = r.state.history;
      expect(h).toHaveLength(4);
      expect(h.at(-1)!.trainLoss).toBeLessThan(h[0].trainLoss * 0.8);
    }, 120_000);

    for (const engine of ['onnx', 'tfjs'] as const) {
      it(`${engine} engine: resuming an interrupted run reaches the weights of an uninterrupted one${engine === 'tfjs' ? ' (interrupted part on 2 replicas)' : ''}`, async () => {
        const a = writeTinyRun(tempDir(), { featureShape: SPATIAL });
        const b = writeTinyRun(tempDir(), { featureShape: SPATIAL });
        await runTrain(trainConfig(a.runDir, { engine }), { openFeatures: a.openFeatures });
        // 54 training captions = 7 batches per epoch: stop after the 2nd batch of the second epoch.
        let batches = 0;
        const replicas = engine === 'tfjs' ? 2 : 1;
        const stopped = await runTrain(trainConfig(b.runDir, { engine, replicas }), {
          openFeatures: b.openFeatures,
          shouldStop: () => ++batches === 9,
        });
        expect(stopped.interrupted).toBe(true);
        expect(stopped.state.batch).toBe(2);
        const resumed = await runTrain(trainConfig(b.runDir, { engine, resume: true, seed: 999, batchSize: 3 }), {
          openFeatures: b.openFeatures,
        });
        expect(resumed.interrupted).toBe(false);
        const wa = await readCheckpoint(a.runDir + '/train/last');
        const wb = await readCheckpoint(b.runDir + '/train/last');
        expect(wb.meta.epoch).toBe(2);
        for (const name of Object.keys(wa.weights)) expect(maxAbsDiff(wa.weights[name], wb.weights[name]), name).toBeLessThan(1e-5);
        expect(wb.optimizer!.step).toBe(wa.optimizer!.step);
      }, 120_000);
    }
  });
});
