// The merge-LSTM decoder against a straightforward plain-JS computation of the same network.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { orthogonal } from '../../src/model/init.js';
import { mulberry32 } from '../../src/util/random.js';
import { mergeLstm, WEIGHT_NAMES, initialWeights, weightShapes, type MergeLstmSizes, type Weights } from '../../src/model/merge-lstm.js';
import { MergeLstm } from '../../src/engine/tfjs-decoder.js';
import { buildBatch, toTensors, disposeBatch } from '../../src/train/batches.js';
import type { Example } from '../../src/train/data.js';

const sizes: MergeLstmSizes = { vocabSize: 9, embeddingSize: 3, hiddenSize: 4, featureSize: 5, dropout: 0.5 };

function randomWeights(seed: number): Weights {
  const rand = mulberry32(seed);
  const shapes = weightShapes(sizes);
  const w = {} as Weights;
  for (const n of WEIGHT_NAMES) w[n] = Float32Array.from({ length: shapes[n].reduce((a, d) => a * d, 1) }, () => rand() - 0.5);
  return w;
}

// --- reference: plain arrays, one caption at a time ---
const sig = (x: number) => 1 / (1 + Math.exp(-x));
function dense(x: number[], k: Float32Array, b: Float32Array, outSize: number, relu: boolean): number[] {
  const out: number[] = [];
  for (let j = 0; j < outSize; j++) {
    let s = b[j];
    for (let i = 0; i < x.length; i++) s += x[i] * k[i * outSize + j];
    out.push(relu ? Math.max(0, s) : s);
  }
  return out;
}
function refLogits(w: Weights, feature: Float32Array, tokens: number[]): number[][] {
  const H = sizes.hiddenSize;
  const E = sizes.embeddingSize;
  const img = dense([...feature], w['image.kernel'], w['image.bias'], H, true);
  let h = new Array(H).fill(0);
  let c = new Array(H).fill(0);
  const out: number[][] = [];
  for (const tok of tokens) {
    const x = [...w.embedding.subarray(tok * E, tok * E + E)];
    const z = dense(x, w['lstm.kernel'], w['lstm.bias'], 4 * H, false);
    const r = dense(h, w['lstm.recurrent'], new Float32Array(4 * H), 4 * H, false);
    const g = z.map((v, i) => v + r[i]);
    const nc: number[] = [];
    const nh: number[] = [];
    for (let j = 0; j < H; j++) {
      const i = sig(g[j]);
      const f = sig(g[H + j]);
      const cc = Math.tanh(g[2 * H + j]);
      const o = sig(g[3 * H + j]);
      nc.push(f * c[j] + i * cc);
      nh.push(o * Math.tanh(nc[j]));
    }
    c = nc;
    h = nh;
    const merged = h.map((v, j) => v + img[j]);
    const d = dense(merged, w['decoder.kernel'], w['decoder.bias'], H, true);
    out.push(dense(d, w['output.kernel'], w['output.bias'], sizes.vocabSize, false));
  }
  return out;
}
const logSoftmax = (v: number[]) => {
  const m = Math.max(...v);
  const lse = m + Math.log(v.reduce((a, x) => a + Math.exp(x - m), 0));
  return v.map((x) => x - lse);
};

describe('merge-lstm', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  const weights = randomWeights(3);
  const rand = mulberry32(11);
  const feats = Float32Array.from({ length: 3 * sizes.featureSize }, () => rand() * 2 - 1);
  const examples: Example[] = [
    { imageRow: 0, ids: Int32Array.from([4, 5, 6]) },
    { imageRow: 1, ids: Int32Array.from([7]) },
    { imageRow: 2, ids: Int32Array.from([8, 4, 5, 6, 7]) },
  ];

  it('teacher-forced logits match the plain-JS network at every scored position', () => {
    const model = new MergeLstm(sizes, weights);
    const host = buildBatch(examples, [0, 1, 2], feats, sizes.featureSize);
    const b = toTensors(host);
    const logits = model.logits(b, { training: false });
    const got = logits.arraySync() as number[][];
    expect(got.length).toBe(3 + 1 + 1 + 1 + 5 + 1);
    // Expected, per row: caption b's position t (rows are time-major).
    const refs = examples.map((e) => refLogits(weights, feats.subarray(e.imageRow * 5, e.imageRow * 5 + 5), [1, ...e.ids]));
    host.rows.forEach((row, k) => {
      const t = Math.floor(row / host.batchSize);
      const want = refs[host.rowCaption[k]][t];
      want.forEach((v, j) => expect(got[k][j]).toBeCloseTo(v, 5));
    });
    tf.dispose(logits);
    disposeBatch(b);
    model.dispose();
  });

  it('step-by-step decoding gives the same log-probabilities, without leaking tensors', () => {
    const model = new MergeLstm(sizes, weights);
    const before = tf.memory().numTensors;
    const tokens = [1, 8, 4, 5];
    const features = tf.tensor2d(feats.subarray(10, 15), [1, 5]);
    let state = model.initState(features);
    const ref = refLogits(weights, feats.subarray(10, 15), tokens);
    for (let t = 0; t < tokens.length; t++) {
      const tok = tf.tensor1d([tokens[t]], 'int32');
      const r = model.step(tok, state);
      const lp = (r.logProbs.arraySync() as number[][])[0];
      logSoftmax(ref[t]).forEach((v, j) => expect(lp[j]).toBeCloseTo(v, 5));
      tf.dispose([tok, r.logProbs, ...state]);
      state = r.state;
    }
    tf.dispose([...state, features]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('dropout uses the batch masks in training only, and the same seed gives the same masks', () => {
    const model = new MergeLstm(sizes, weights);
    const masked = (seed: number) =>
      toTensors(
        buildBatch(examples, [0, 2], feats, sizes.featureSize, {
          dropout: { rate: sizes.dropout, seed, sites: mergeLstm.dropoutSites(sizes) },
        }),
      );
    const [b5, b5again, b6] = [masked(5), masked(5), masked(6)];
    const a1 = model.logits(b5, { training: true }).arraySync();
    const a2 = model.logits(b5again, { training: true }).arraySync();
    const a3 = model.logits(b6, { training: true }).arraySync();
    expect(a1).toEqual(a2);
    expect(a1).not.toEqual(a3);
    // Inference ignores the masks: the same as a batch without any.
    const plain = toTensors(buildBatch(examples, [0, 2], feats, sizes.featureSize));
    expect(model.logits(b5, { training: false }).arraySync()).toEqual(model.logits(plain, { training: false }).arraySync());
    // Training without masks is a programming error, not silently dropout-free.
    expect(() => model.logits(plain, { training: true })).toThrow(/dropout masks/);
    [b5, b5again, b6, plain].forEach(disposeBatch);
    model.dispose();
  });
});

describe('initialisers', () => {
  it('orthogonal [h, 4h] has orthonormal rows; initial weights are seeded, with unit forget bias', () => {
    const h = 6;
    const q = orthogonal(h, 4 * h, mulberry32(1));
    for (let a = 0; a < h; a++) {
      for (let b = 0; b < h; b++) {
        let dot = 0;
        for (let j = 0; j < 4 * h; j++) dot += q[a * 4 * h + j] * q[b * 4 * h + j];
        expect(dot).toBeCloseTo(a === b ? 1 : 0, 5);
      }
    }
    const w1 = initialWeights(sizes, 9);
    expect(w1['lstm.bias'].slice(0, 4)).toEqual(new Float32Array(4));
    expect([...w1['lstm.bias'].slice(4, 8)]).toEqual([1, 1, 1, 1]);
    expect(initialWeights(sizes, 9).embedding).toEqual(w1.embedding);
    expect(initialWeights(sizes, 10).embedding).not.toEqual(w1.embedding);
    const limit = Math.sqrt(6 / (sizes.hiddenSize + sizes.vocabSize));
    expect(Math.max(...w1['output.kernel'].map(Math.abs))).toBeLessThanOrEqual(limit);
  });
});
