// Shared by the engine tests of every decoder: runs one training batch through the ONNX Runtime
// engine and through tfjs' autodiff of the same decoder (tfjs ops only, no fast paths), on small
// fixed weights, and returns both engines' loss and gradients.
import * as tf from '@tensorflow/tfjs';
import type { BaseSizes, DecoderSpec, Weights } from '../../src/model/decoder.js';
import { mulberry32 as seededRandom } from '../../src/util/random.js';
import { TfjsDecoder } from '../../src/engine/tfjs-decoder.js';
import { OnnxTrainer } from '../../src/engine/onnx/trainer.js';
import { buildDecoderGraphs } from '../../src/engine/onnx/decode-graphs.js';
import { encodeOnnxModel } from '../../src/engine/onnx/proto.js';
import { loadOnnxRuntime, type OrtTensor } from '../../src/engine/onnx/runtime.js';
import { buildBatch, toTensors, disposeBatch } from '../../src/train/batches.js';
import type { Example } from '../../src/train/data.js';
import type { ExpectStatic } from 'vitest';

export function randomWeights<S extends BaseSizes>(spec: DecoderSpec<S>, sizes: S, seed: number): Weights {
  const rand = seededRandom(seed);
  const w: Weights = {};
  for (const [n, shape] of spec.weightShapes(sizes))
    w[n] = Float32Array.from({ length: shape.reduce((a, d) => a * d, 1) }, () => (rand() - 0.5) * 0.8);
  return w;
}

/**
 * tfjs reference: the loss of src/train/objective.ts written with tfjs ops (the batch's caption
 * weights times each word's cross-entropy, mean over words, + penalty) and its gradients by tf.variableGrads.
 */
export function tfjsLossAndGrads<S extends BaseSizes>(
  spec: DecoderSpec<S>,
  sizes: S,
  weights: Weights,
  batch: ReturnType<typeof buildBatch>,
  opts: { labelSmoothing: number },
) {
  const model = new TfjsDecoder(spec, sizes, weights, { fused: false });
  const dev = toTensors(batch, spec.featureShape(sizes));
  try {
    let ce = 0;
    // Sampled captions: each row's softmax leaves out pad, start, unk, and the end token at t = 0
    // (rows < B), written here from the ids, not from src/decode/candidates.ts.
    const N = batch.targets.length;
    const V = sizes.vocabSize;
    const refused = new Float32Array(N * V);
    if (batch.sampled)
      for (let i = 0; i < N; i++) for (const w of batch.rows[i] < batch.batchSize ? [0, 1, 2, 3] : [0, 1, 3]) refused[i * V + w] = -1e9;
    const { value, grads } = tf.variableGrads(() => {
      const out = model.forward(dev, { training: true });
      const logp = tf.logSoftmax(batch.sampled ? tf.add(out.logits, tf.tensor2d(refused, [N, V])) : out.logits);
      const oneHot = tf.oneHot(tf.tensor1d(batch.targets, 'int32'), sizes.vocabSize);
      const rowWeights = tf.gather(tf.tensor1d(batch.weights), dev.rowCaption); // [N]
      const loss = tf.neg(tf.mean(tf.mul(rowWeights, tf.sum(tf.mul(logp, oneHot), 1))));
      ce = loss.dataSync()[0];
      const eps = batch.sampled ? 0 : opts.labelSmoothing; // sampled captions: the distribution drawn from
      const q = tf.add(tf.mul(oneHot, 1 - eps), eps / sizes.vocabSize);
      const trained = tf.neg(tf.mean(tf.mul(rowWeights, tf.sum(tf.mul(logp, q), 1))));
      return (out.penalty ? tf.add(trained, tf.sum(out.penalty)) : trained) as tf.Scalar;
    }, model.variables);
    const g = model.variables.map((v) => grads[v.name].dataSync() as Float32Array);
    value.dispose();
    tf.dispose(Object.values(grads));
    return { loss: ce, grads: g, names: model.weightNames };
  } finally {
    disposeBatch(dev);
    model.dispose();
  }
}

export async function compareEngines<S extends BaseSizes>(
  spec: DecoderSpec<S>,
  sizes: S,
  opts: { examples: Example[]; featureRows: number; seed: number; labelSmoothing?: number },
) {
  const rand = seededRandom(opts.seed);
  const features = Float32Array.from({ length: opts.featureRows * sizes.featureSize }, () => rand() * 2 - 1);
  const picks = opts.examples.map((_, i) => i);
  const padTo = picks.length + 2; // padding captions must change nothing
  const dropout = { rate: sizes.dropout, seed: 5, sites: spec.dropoutSites(sizes) };
  const weights = randomWeights(spec, sizes, opts.seed + 1);
  const padded = buildBatch(opts.examples, picks, features, sizes.featureSize, { padTo, dropout });
  const plain = buildBatch(opts.examples, picks, features, sizes.featureSize, { dropout });
  const ref = tfjsLossAndGrads(spec, sizes, weights, plain, { labelSmoothing: opts.labelSmoothing ?? 0 });
  const trainer = new OnnxTrainer(spec, sizes, { batchSize: padTo, labelSmoothing: opts.labelSmoothing ?? 0, threads: 1 });
  const grads = ref.names.map((n) => new Float32Array(weights[n].length));
  try {
    const r = await trainer.run(
      ref.names.map((n) => weights[n]),
      padded,
      grads,
    );
    return { ref, onnx: { loss: r.loss, grads, correct: r.correct } };
  } finally {
    await trainer.close();
  }
}

/** Largest absolute difference between two arrays. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** Both engines' loss and every gradient agree to `tol`, and every weight gets a gradient. */
export function expectEnginesEqual(r: Awaited<ReturnType<typeof compareEngines>>, expect: ExpectStatic, tol = 1e-5): void {
  expect(Math.abs(r.onnx.loss - r.ref.loss)).toBeLessThan(tol);
  r.ref.names.forEach((name, k) => {
    expect(maxAbsDiff(r.ref.grads[k], r.onnx.grads[k]), name).toBeLessThan(tol);
    expect(
      r.ref.grads[k].some((x) => x !== 0),
      `${name} has a gradient`,
    ).toBe(true);
  });
}

/** Runs init and `steps` steps with ONNX Runtime and tfjs on the same tokens; returns the largest differences. */
export async function compareDecoding<S extends BaseSizes>(
  spec: DecoderSpec<S>,
  sizes: S,
  opts: { batch: number; steps: number; seed: number },
) {
  const weights = randomWeights(spec, sizes, opts.seed);
  const graphs = buildDecoderGraphs(spec, sizes, weights);
  const O = loadOnnxRuntime();
  if (!O) throw new Error('compareDecoding needs onnxruntime-node');
  const init = await O.InferenceSession.create(encodeOnnxModel(graphs.init));
  const step = await O.InferenceSession.create(encodeOnnxModel(graphs.step));
  const model = new TfjsDecoder(spec, sizes, weights, { fused: false });
  const rand = seededRandom(opts.seed + 1);
  const featureShape = spec.featureShape(sizes);
  const flat = Float32Array.from({ length: opts.batch * sizes.featureSize }, () => rand() * 2 - 1);
  const features = tf.tensor(flat, [opts.batch, ...featureShape]);
  let tfState = model.initState(features);
  let ortState: OrtTensor[] = Object.values(await init.run({ features: new O.Tensor('float32', flat, [opts.batch, ...featureShape]) }));
  let worst = 0;
  try {
    for (let t = 0; t < opts.steps; t++) {
      const ids = Int32Array.from({ length: opts.batch }, () => 1 + Math.floor(rand() * (sizes.vocabSize - 1)));
      const tokens = tf.tensor1d(ids, 'int32');
      const out = model.step(tokens, tfState, t);
      const feeds: Record<string, OrtTensor> = {
        tokens: new O.Tensor('int32', ids, [opts.batch]),
        positions: new O.Tensor('int32', new Int32Array(opts.batch).fill(t), [opts.batch]),
      };
      ortState.forEach((s, i) => (feeds[`state_${i}`] = s));
      const r = await step.run(feeds);
      const a = out.logProbs.dataSync();
      const b = r.logProbs.data as Float32Array;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      if (graphs.attention) {
        const x = (out.attention as tf.Tensor).dataSync();
        const y = r.attention.data as Float32Array;
        for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
      }
      tf.dispose([tokens, out.logProbs, ...(out.attention ? [out.attention] : []), ...tfState]);
      tfState = out.state;
      ortState = Array.from({ length: graphs.stateCount }, (_, i) => r[`next_state_${i}`]);
    }
  } finally {
    tf.dispose([features, ...tfState]);
    model.dispose();
    await init.release();
    await step.release();
  }
  return { worst, stateCount: graphs.stateCount };
}
