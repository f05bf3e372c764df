// One loss with a weight per caption (src/train/objective.ts), on every engine: the tfjs fast path
// (WASM/cpu), the tfjs-ops path (native backends) and the ONNX Runtime graph. Weight 1 everywhere is
// today's cross-entropy; weight 2 is the caption twice and weight 0 the caption left out, in the sum
// over words (loss x scored words), label smoothing included.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { OnnxTrainer } from '../../src/engine/onnx/trainer.js';
import { attentionLstm } from '../../src/model/attention-lstm.js';
import type { BaseSizes, DecoderSpec, Weights } from '../../src/model/decoder.js';
import { mergeLstm } from '../../src/model/merge-lstm.js';
import { TfjsDecoder } from '../../src/engine/tfjs-decoder.js';
import { buildBatch, disposeBatch, toTensors, type HostBatch } from '../../src/train/batches.js';
import type { Example } from '../../src/train/data.js';
import { crossEntropyFromLogits, lossAndGrads } from '../../src/train/objective.js';
import { mulberry32 } from '../../src/util/random.js';
import { randomWeights, tfjsLossAndGrads } from '../engine/compare.js';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { TINY_ATTENTION } from '../model/tiny-sizes.js';

const examples: Example[] = [
  { imageRow: 0, ids: Int32Array.from([4, 5, 6]) },
  { imageRow: 1, ids: Int32Array.from([7]) },
  { imageRow: 2, ids: Int32Array.from([8, 4, 5, 6, 7]) },
  { imageRow: 1, ids: Int32Array.from([3, 3]) },
];
const LABEL_SMOOTHING = 0.1;
/** Padding columns too: they have weight 1 and score nothing. */
const PAD_TO = 6;

type EngineName = 'tfjs fast path' | 'tfjs ops' | 'onnx';
const ENGINES: EngineName[] = SKIP_ORT ? ['tfjs fast path', 'tfjs ops'] : ['tfjs fast path', 'tfjs ops', 'onnx'];

interface Decoder {
  name: string;
  spec: DecoderSpec<BaseSizes>;
  sizes: BaseSizes;
}
const DECODERS: Decoder[] = [
  {
    name: 'merge',
    spec: mergeLstm as unknown as DecoderSpec<BaseSizes>,
    sizes: { vocabSize: 9, embeddingSize: 3, hiddenSize: 4, featureSize: 5, dropout: 0 } as BaseSizes,
  },
  // The penalty is not weighted (it regularises attention, not a caption's likelihood): off here.
  {
    name: 'attention',
    spec: attentionLstm as unknown as DecoderSpec<BaseSizes>,
    sizes: { ...TINY_ATTENTION, dropout: 0, attentionPenalty: 0 } as BaseSizes,
  },
];

function features(d: Decoder): Float32Array {
  const rand = mulberry32(3);
  return Float32Array.from({ length: 3 * d.sizes.featureSize }, () => rand() * 2 - 1);
}

async function lossAndGradsOn(engine: EngineName, d: Decoder, weights: Weights, batch: HostBatch) {
  const names = d.spec.weightShapes(d.sizes).map(([n]) => n);
  if (engine === 'onnx') {
    const trainer = new OnnxTrainer(d.spec, d.sizes, { batchSize: batch.batchSize, labelSmoothing: LABEL_SMOOTHING, threads: 1 });
    const grads = names.map((n) => new Float32Array(weights[n].length));
    try {
      const r = await trainer.run(
        names.map((n) => weights[n]),
        batch,
        grads,
      );
      return { loss: r.loss, grads, words: batch.targets.length };
    } finally {
      await trainer.close();
    }
  }
  const model = new TfjsDecoder(d.spec, d.sizes, weights, { fused: engine === 'tfjs fast path' });
  const dev = toTensors(batch, d.spec.featureShape(d.sizes));
  try {
    const r = lossAndGrads(model, dev, { labelSmoothing: LABEL_SMOOTHING, opsOnly: engine === 'tfjs ops' });
    const grads = r.grads.map((g) => Float32Array.from(g.dataSync()));
    tf.dispose(r.grads);
    return { loss: r.loss, grads, words: batch.targets.length };
  } finally {
    disposeBatch(dev);
    model.dispose();
  }
}

/** Largest |a - b| relative to max(1, largest |b|). */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  let scale = 1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst / scale;
}

const times = (a: Float32Array, k: number) => Float64Array.from(a, (x) => x * k);

describe('the loss with a weight per caption', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('the host loss: weights of 1 give bit-identical loss and gradient to no weights', () => {
    const rand = mulberry32(5);
    const [N, V] = [6, 7];
    const logits = Float32Array.from({ length: N * V }, () => rand() * 6 - 3);
    const targets = Int32Array.from({ length: N }, (_, i) => (i * 3) % V);
    const plainGrad = new Float32Array(N * V);
    const onesGrad = new Float32Array(N * V);
    const plain = crossEntropyFromLogits(logits, targets, V, { grad: plainGrad, labelSmoothing: LABEL_SMOOTHING });
    const ones = crossEntropyFromLogits(logits, targets, V, {
      grad: onesGrad,
      labelSmoothing: LABEL_SMOOTHING,
      rowWeights: new Float32Array(N).fill(1),
    });
    expect(ones).toEqual(plain);
    expect(onesGrad).toEqual(plainGrad);
    // ...and a weight does change them (the comparison can fail).
    const halved = crossEntropyFromLogits(logits, targets, V, { rowWeights: new Float32Array(N).fill(0.5) });
    expect(halved.loss).toBeCloseTo(plain.loss / 2, 6);
  });

  it('the tfjs-ops loss: weights of 1 multiplied in give bit-identical loss and gradients to none', () => {
    const d = DECODERS[0];
    const weights = randomWeights(d.spec, d.sizes, 4);
    const batch = buildBatch(examples, [0, 1, 2, 3], features(d), d.sizes.featureSize);
    const model = new TfjsDecoder(d.spec, d.sizes, weights, { fused: false });
    const dev = toTensors(batch, d.spec.featureShape(d.sizes));
    const run = (rowWeights?: Float32Array) => {
      const r = lossAndGrads(model, { ...dev, rowWeights }, { labelSmoothing: LABEL_SMOOTHING, opsOnly: true });
      const grads = r.grads.map((g) => Float32Array.from(g.dataSync()));
      tf.dispose(r.grads);
      return { loss: r.loss, grads };
    };
    expect(dev.rowWeights).toBeUndefined(); // all 1: nothing to multiply
    const before = tf.memory().numTensors;
    const ones = run(new Float32Array(batch.targets.length).fill(1));
    expect(tf.memory().numTensors).toBe(before);
    expect(ones).toEqual(run());
    disposeBatch(dev);
    model.dispose();
  });

  for (const d of DECODERS) {
    it.each(ENGINES)(`${d.name}, %s: weight 1 on every caption equals the reference cross-entropy (1e-5)`, async (engine) => {
      const weights = randomWeights(d.spec, d.sizes, 4);
      const batch = buildBatch(examples, [0, 1, 2, 3], features(d), d.sizes.featureSize, { padTo: PAD_TO, weights: [1, 1, 1, 1] });
      const ref = tfjsLossAndGrads(d.spec, d.sizes, weights, batch, { labelSmoothing: LABEL_SMOOTHING });
      const r = await lossAndGradsOn(engine, d, weights, batch);
      expect(Math.abs(r.loss - ref.loss)).toBeLessThan(1e-5);
      r.grads.forEach((g, k) => expect(relativeError(g, ref.grads[k]), ref.names[k]).toBeLessThan(1e-5));
    });

    it.each(ENGINES)(
      `${d.name}, %s: weight 2 = the caption twice, weight 0 = the caption left out (loss and gradients x words, 1e-5)`,
      async (engine) => {
        const weights = randomWeights(d.spec, d.sizes, 4);
        const build = (picks: number[], w?: number[]) =>
          buildBatch(examples, picks, features(d), d.sizes.featureSize, { padTo: PAD_TO, ...(w ? { weights: w } : {}) });
        for (const [weighted, copies] of [
          [build([0, 1, 2, 3], [1, 2, 1, 1]), build([0, 1, 1, 2, 3])],
          [build([0, 1, 2, 3], [1, 1, 0, 1]), build([0, 1, 3])],
        ]) {
          const a = await lossAndGradsOn(engine, d, weights, weighted);
          const b = await lossAndGradsOn(engine, d, weights, copies);
          expect(Math.abs(a.loss * a.words - b.loss * b.words)).toBeLessThan(1e-5 * b.loss * b.words);
          a.grads.forEach((g, k) => expect(relativeError(times(g, a.words), times(b.grads[k], b.words)), `weight ${k}`).toBeLessThan(1e-5));
          // The weighted batch differs from the plain one (the comparison can fail).
          const plain = await lossAndGradsOn(engine, d, weights, build([0, 1, 2, 3]));
          expect(relativeError(plain.grads[0], a.grads[0])).toBeGreaterThan(1e-4);
        }
      },
    );
  }
});

describe('the loss of sampled captions (self-critical training): the distribution they were drawn from', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('the host loss leaves pad, start and unk (and the end token at a first word) out of the softmax: a plain-array reference, zero gradient there, finite differences', () => {
    const rand = mulberry32(9);
    const [N, V] = [5, 8];
    const logits = Float32Array.from({ length: N * V }, () => rand() * 6 - 3);
    logits[3] = 4; // unk, the most likely word of row 0: it must not count
    const targets = Int32Array.from([4, 2, 5, 6, 2]);
    const firstWordRows = Uint8Array.from([1, 0, 1, 0, 0]);
    const rowWeights = Float32Array.from([0.5, -1, 2, 1, -0.25]);
    const grad = new Float32Array(N * V);
    const loss = (l: Float32Array, g?: Float32Array) => crossEntropyFromLogits(l, targets, V, { grad: g, rowWeights, firstWordRows }).loss;
    const got = crossEntropyFromLogits(logits, targets, V, { grad, rowWeights, firstWordRows });
    // reference: -w (z_t - log sum over the allowed words of exp z), mean over the rows
    let want = 0;
    for (let r = 0; r < N; r++) {
      const refused = firstWordRows[r] ? [0, 1, 2, 3] : [0, 1, 3];
      let sum = 0;
      for (let j = 0; j < V; j++) if (!refused.includes(j)) sum += Math.exp(logits[r * V + j]);
      want += -rowWeights[r] * (logits[r * V + targets[r]] - Math.log(sum));
    }
    expect(got.loss).toBeCloseTo(want / N, 5);
    expect(got.loss).not.toBeCloseTo(crossEntropyFromLogits(logits, targets, V, { rowWeights }).loss, 2); // the full softmax differs
    for (let r = 0; r < N; r++) for (const j of firstWordRows[r] ? [0, 1, 2, 3] : [0, 1, 3]) expect(grad[r * V + j]).toBe(0);
    for (const k of [4, 9, 21, 30, 38]) {
      const h = 1e-2;
      const up = Float32Array.from(logits);
      const down = Float32Array.from(logits);
      up[k] += h;
      down[k] -= h;
      expect(Math.abs((loss(up) - loss(down)) / (2 * h) - grad[k]), `logit ${k}`).toBeLessThan(1e-4);
    }
    expect(() => crossEntropyFromLogits(logits, targets, V, { firstWordRows, labelSmoothing: 0.1 })).toThrow(/label smoothing/);
  });

  for (const d of DECODERS) {
    it.each(ENGINES)(`${d.name}, %s: loss and gradients equal the reference's on the renormalised distribution (1e-5)`, async (engine) => {
      const weights = randomWeights(d.spec, d.sizes, 6);
      weights['output.bias'][3] += 3; // much of the mass on unk, which the sampled loss leaves out
      const build = (sampled: boolean) =>
        buildBatch(examples, [0, 1, 2], features(d), d.sizes.featureSize, { padTo: PAD_TO, weights: [1.5, -0.5, 0.75], sampled });
      const batch = build(true);
      const ref = tfjsLossAndGrads(d.spec, d.sizes, weights, batch, { labelSmoothing: LABEL_SMOOTHING });
      const r = await lossAndGradsOn(engine, d, weights, batch);
      expect(Math.abs(r.loss - ref.loss)).toBeLessThan(1e-5);
      r.grads.forEach((g, k) => expect(relativeError(g, ref.grads[k]), ref.names[k]).toBeLessThan(1e-5));
      // ...and the full softmax's loss is another (the comparison can fail)
      const full = await lossAndGradsOn(engine, d, weights, build(false));
      expect(Math.abs(full.loss - r.loss)).toBeGreaterThan(1e-2);
    });
  }
});
