// The soft-attention LSTM decoder of Show, Attend and Tell (Xu et al. 2015), written over Ops
// (src/model/ops.ts) so that both training engines run it; on ONNX the recurrence is unrolled per step.
//
// features [B, H*W, C] -> (Dense(P, relu)) -> f [B, R, D]            (D = P, or C without projection)
//   mean_r f -> Dense(hidden, tanh) -> h0,  mean_r f -> Dense(hidden, tanh) -> c0
// every step t (h = h_{t-1}):
//   score_r = v^T tanh(W_f f_r + b_f + W_h h)      alpha = softmax_r(score)          [B, R]
//   z = beta * sum_r alpha_r f_r,  beta = sigmoid(W_b h + b_b)                      [B, D]
//   h, c = LSTM([E y_{t-1}, z], h, c)
//   logits = L_o dropout(tanh(E y_{t-1} + L_h dropout(h) + L_z z + b)) + b_o       (the deep output)
// loss: masked cross-entropy + lambda * sum_b sum_r (1 - sum_t alpha_btr)^2 / N over the REAL steps.
//
// Weight layout (row-major float32, in weightShapes order; kernels [in, out] as in Keras):
//   embedding                [vocabSize, embeddingSize]
//   projection.kernel/.bias  [channels, projectionSize] [projectionSize]    only when projectionSize > 0
//   init.h.kernel/.bias      [D, hiddenSize] [hiddenSize]      init.c.kernel/.bias likewise
//   attention.feature.kernel [D, attentionSize]  attention.feature.bias [attentionSize]
//   attention.hidden.kernel  [hiddenSize, attentionSize]  attention.score [attentionSize, 1]  (v)
//   gate.kernel [hiddenSize, 1]  gate.bias [1]
//   lstm.kernel [embeddingSize, 4h]  lstm.context [D, 4h]  lstm.recurrent [h, 4h]  lstm.bias [4h] (gates i, f, c, o)
//   deep.hidden.kernel [h, embeddingSize]  deep.context.kernel [D, embeddingSize]  deep.bias [embeddingSize]
//   output.kernel [embeddingSize, vocabSize]  output.bias [vocabSize]
import { CapgenError } from '../errors.js';
import { metaNumber, type BaseSizes, type DecoderSpec, type TeacherForced, type Weights } from './decoder.js';
import { mulberry32 } from '../util/random.js';
import { glorotUniform, orthogonal, uniform } from './init.js';
import { dense, lstmCell, type BatchTensors, type Ops } from './ops.js';

export const ARCHITECTURE = 'attention-lstm';

export interface AttentionLstmSizes extends BaseSizes {
  /** The feature map's height and width (regions = mapHeight * mapWidth, row-major). */
  mapHeight: number;
  mapWidth: number;
  /** Channels per region as the encoder writes them. */
  channels: number;
  /** Width the channels are projected to first; 0 = no projection (the context is `channels` wide). */
  projectionSize: number;
  embeddingSize: number;
  hiddenSize: number;
  /** Width of the additive attention's hidden layer. */
  attentionSize: number;
  /** lambda of the doubly-stochastic attention penalty (0 = off). */
  attentionPenalty: number;
}

/** Defaults of the size flags, each with its reason. */
export const ATTENTION_DEFAULTS = {
  // The merge decoder's (the Keras tutorial's) word width: the deep output adds in this width too.
  embeddingSize: 256,
  // 256, as the merge decoder: the recurrence runs once per word over every caption of a batch, so its
  // width sets the epoch time. At 512 (and a 512-wide context) an epoch cost well past the budget of a
  // few merge-decoder epochs on a CPU, and the paper's 1800 far more (bench/README.md, with the
  // Flickr8k dev scores at 256).
  hiddenSize: 256,
  // Scores are one number per region: a narrow hidden layer suffices (the paper ties it to D).
  attentionSize: 256,
  // 1024 MobileNet / 2048 ResNet channels -> 256: the LSTM's input, the attention keys and the deep
  // output then cost a quarter (an eighth for ResNet) of the raw width's.
  projectionSize: 256,
  // Show, Attend and Tell's lambda (alpha_c = 1 in the authors' scripts). The penalty per caption is
  // divided by the scored words, as the loss is, which keeps the paper's balance between a caption's
  // summed log-likelihood and its penalty.
  attentionPenalty: 1,
} as const;

const names = {
  embedding: 'embedding',
  projectionKernel: 'projection.kernel',
  projectionBias: 'projection.bias',
  initHKernel: 'init.h.kernel',
  initHBias: 'init.h.bias',
  initCKernel: 'init.c.kernel',
  initCBias: 'init.c.bias',
  attFeatureKernel: 'attention.feature.kernel',
  attFeatureBias: 'attention.feature.bias',
  attHiddenKernel: 'attention.hidden.kernel',
  attScore: 'attention.score',
  gateKernel: 'gate.kernel',
  gateBias: 'gate.bias',
  lstmKernel: 'lstm.kernel',
  lstmContext: 'lstm.context',
  lstmRecurrent: 'lstm.recurrent',
  lstmBias: 'lstm.bias',
  deepHidden: 'deep.hidden.kernel',
  deepContext: 'deep.context.kernel',
  deepBias: 'deep.bias',
  outputKernel: 'output.kernel',
  outputBias: 'output.bias',
} as const;

export const regionsOf = (s: AttentionLstmSizes): number => s.mapHeight * s.mapWidth;
/** Width of the context vector (and of each region after the projection). */
export const contextSizeOf = (s: AttentionLstmSizes): number => (s.projectionSize > 0 ? s.projectionSize : s.channels);

export function weightShapes(s: AttentionLstmSizes): [string, number[]][] {
  const { embeddingSize: E, hiddenSize: H, attentionSize: A, vocabSize: V } = s;
  const D = contextSizeOf(s);
  return [
    [names.embedding, [V, E]],
    ...(s.projectionSize > 0
      ? ([
          [names.projectionKernel, [s.channels, s.projectionSize]],
          [names.projectionBias, [s.projectionSize]],
        ] as [string, number[]][])
      : []),
    [names.initHKernel, [D, H]],
    [names.initHBias, [H]],
    [names.initCKernel, [D, H]],
    [names.initCBias, [H]],
    [names.attFeatureKernel, [D, A]],
    [names.attFeatureBias, [A]],
    [names.attHiddenKernel, [H, A]],
    [names.attScore, [A, 1]],
    [names.gateKernel, [H, 1]],
    [names.gateBias, [1]],
    [names.lstmKernel, [E, 4 * H]],
    [names.lstmContext, [D, 4 * H]],
    [names.lstmRecurrent, [H, 4 * H]],
    [names.lstmBias, [4 * H]],
    [names.deepHidden, [H, E]],
    [names.deepContext, [D, E]],
    [names.deepBias, [E]],
    [names.outputKernel, [E, V]],
    [names.outputBias, [V]],
  ];
}

/** Keras' defaults (glorot kernels, orthogonal recurrence, zero biases, forget bias 1), seeded. */
export function initialWeights(s: AttentionLstmSizes, seed: number): Weights {
  const rand = mulberry32(seed);
  const out: Weights = {};
  for (const [name, shape] of weightShapes(s)) {
    const size = shape.reduce((a, d) => a * d, 1);
    if (name === names.embedding) out[name] = uniform(size, 0.05, rand);
    else if (name === names.lstmRecurrent) out[name] = orthogonal(shape[0], shape[1], rand);
    else if (shape.length === 2) out[name] = glorotUniform(shape[0], shape[1], rand);
    else out[name] = new Float32Array(size);
  }
  out[names.lstmBias].fill(1, s.hiddenSize, 2 * s.hiddenSize); // unit_forget_bias: remember by default early on
  return out;
}

interface Encoded<T> {
  /** [B, R, D] the regions, projected. */
  regions: T;
  /** [B, R, A] W_f f_r + b_f: the regions' half of the attention scores, once per image. */
  regionKeys: T;
  h: T;
  c: T;
}

/** features [B, R*C] (or any [B, ...] of that size) -> regions, their attention keys, h0 and c0. */
function encode<T>(ops: Ops<T>, w: Record<string, T>, features: T, batchSize: number, s: AttentionLstmSizes): Encoded<T> {
  let regions = ops.reshape(features, [batchSize, regionsOf(s), s.channels]);
  if (s.projectionSize > 0) regions = dense(ops, regions, w[names.projectionKernel], w[names.projectionBias], 'relu');
  const mean = ops.mean(regions, [1]); // [B, D]
  return {
    regions,
    regionKeys: dense(ops, regions, w[names.attFeatureKernel], w[names.attFeatureBias]),
    h: dense(ops, mean, w[names.initHKernel], w[names.initHBias], 'tanh'),
    c: dense(ops, mean, w[names.initCKernel], w[names.initCBias], 'tanh'),
  };
}

/** One attention read with the previous hidden state h [B, H]: alpha [B, R] and the gated context [B, D]. */
function attend<T>(
  ops: Ops<T>,
  w: Record<string, T>,
  enc: { regions: T; regionKeys: T },
  h: T,
  s: AttentionLstmSizes,
): { alpha: T; context: T } {
  const B = ops.shape(h)[0];
  const R = regionsOf(s);
  const query = ops.reshape(ops.matmul(h, w[names.attHiddenKernel]), [B, 1, s.attentionSize]);
  const scores = ops.reshape(ops.matmul(ops.tanh(ops.add(enc.regionKeys, query)), w[names.attScore]), [B, R]);
  const alpha = ops.softmax(scores);
  const context = ops.reshape(ops.matmul(ops.reshape(alpha, [B, 1, R]), enc.regions), [B, contextSizeOf(s)]);
  const beta = dense(ops, h, w[names.gateKernel], w[names.gateBias], 'sigmoid'); // [B, 1]
  return { alpha, context: ops.mul(context, beta) };
}

/** The deep output: word embeddings e, hidden states h, gated contexts z [N, *] -> logits [N, V]. */
function deepOutput<T>(ops: Ops<T>, w: Record<string, T>, x: { e: T; h: T; z: T; outputMask?: T }): T {
  let deep = ops.tanh(
    ops.add(ops.add(ops.add(x.e, ops.matmul(x.h, w[names.deepHidden])), ops.matmul(x.z, w[names.deepContext])), w[names.deepBias]),
  );
  if (x.outputMask) deep = ops.mul(deep, x.outputMask);
  return dense(ops, deep, w[names.outputKernel], w[names.outputBias]);
}

/**
 * lambda * sum_b sum_r (c_b - sum_t alpha_btr)^2 / N over the scored (real) positions only: the
 * alphas [T*B, R] are gathered at `rows` and summed per caption by a one-hot [N, B] (rows of an
 * identity gathered by `rowCaption`); c_b = 1 for a caption with scored positions, 0 for a padding
 * caption (whose sums are 0), so padding adds nothing. Dividing by N matches the mean loss per word.
 */
function attentionPenalty<T>(ops: Ops<T>, alphas: T, batch: BatchTensors<T>, lambda: number): T {
  const B = batch.batchSize;
  const eye = new Float32Array(B * B);
  for (let b = 0; b < B; b++) eye[b * B + b] = 1;
  const oneHot = ops.gather(ops.constant(eye, [B, B]), batch.rowCaption); // [N, B]
  const perCaption = ops.matmul(ops.transpose(oneHot, [1, 0]), ops.gather(alphas, batch.rows)); // [B, R]
  const counts = ops.reshape(ops.sum(oneHot, [0]), [B, 1]); // scored positions per caption
  const one = ops.constant(Float32Array.of(1), [1]);
  const real = ops.sub(one, ops.relu(ops.sub(one, counts))); // min(count, 1): counts are whole numbers
  const miss = ops.sub(real, perCaption);
  const total = ops.reshape(ops.sum(ops.mul(miss, miss), [0, 1]), [1]);
  const words = ops.reshape(ops.sum(counts, [0, 1]), [1]);
  return ops.scale(ops.mul(total, ops.reciprocal(words)), lambda);
}

function spatialShape(featureShape: number[]): { mapHeight: number; mapWidth: number; channels: number } {
  if (featureShape.length === 3) return { mapHeight: featureShape[0], mapWidth: featureShape[1], channels: featureShape[2] };
  if (featureShape.length === 2) return { mapHeight: featureShape[0], mapWidth: 1, channels: featureShape[1] };
  throw new CapgenError(
    'MISMATCH',
    `the attention decoder needs spatial features [height, width, channels], got [${featureShape.join(', ')}]`,
    {
      hint: 'prepare with --pooling none',
    },
  );
}

/** Teacher forcing over a whole batch: logits [N, V] at the scored rows, and the attention penalty. */
function teacherForced<T>(
  ops: Ops<T>,
  w: Record<string, T>,
  batch: BatchTensors<T>,
  { sizes, training }: { sizes: AttentionLstmSizes; training: boolean },
): TeacherForced<T> {
  const B = batch.batchSize;
  const timeSteps = batch.timeSteps;
  const enc = encode(ops, w, batch.features, B, sizes);
  const emb = ops.gather(w[names.embedding], batch.inputs); // [T*B, E]
  // The words' share of the LSTM input for all steps at once; the context's share is per step.
  const xProj = ops.add(ops.matmul(emb, w[names.lstmKernel]), w[names.lstmBias]); // [T*B, 4h]
  const steps = timeSteps === 1 ? [xProj] : ops.split(xProj, new Array<number>(timeSteps).fill(B), 0);
  let { h, c } = enc;
  const hs: T[] = [];
  const contexts: T[] = [];
  const alphas: T[] = [];
  for (let t = 0; t < timeSteps; t++) {
    const { alpha, context } = attend(ops, w, enc, h, sizes);
    const z = ops.add(ops.add(steps[t], ops.matmul(context, w[names.lstmContext])), ops.matmul(h, w[names.lstmRecurrent]));
    ({ h, c } = lstmCell(ops, z, c, sizes.hiddenSize));
    hs.push(h);
    contexts.push(context);
    alphas.push(alpha);
  }
  const cat = (xs: T[]) => (xs.length === 1 ? xs[0] : ops.concat(xs, 0)); // time-major [T*B, *]
  let hN = ops.gather(cat(hs), batch.rows); // [N, h]
  let outputMask: T | undefined;
  if (training && sizes.dropout > 0) {
    // Masks come with the batch (src/train/dropout.ts): the same for any split of a batch.
    const { hidden, output } = batch.masks;
    if (!hidden || !output) throw new Error("attention-lstm: training with dropout needs the batch's dropout masks");
    hN = ops.mul(hN, ops.gather(hidden, batch.rows));
    outputMask = ops.gather(output, batch.rows);
  }
  const logits = deepOutput(ops, w, { e: ops.gather(emb, batch.rows), h: hN, z: ops.gather(cat(contexts), batch.rows), outputMask });
  if (!(sizes.attentionPenalty > 0)) return { logits };
  return { logits, penalty: attentionPenalty(ops, cat(alphas), batch, sizes.attentionPenalty) };
}

export const attentionLstm: DecoderSpec<AttentionLstmSizes> = {
  architecture: ARCHITECTURE,
  description: 'Show, Attend and Tell: an LSTM with soft attention over the image regions, a gate on the context and a deep output',
  features: 'spatial',
  sizesFor: (data, o) => {
    const map = spatialShape(data.featureShape);
    return {
      vocabSize: data.vocabSize,
      featureSize: map.mapHeight * map.mapWidth * map.channels,
      dropout: data.dropout,
      ...map,
      projectionSize: o.projectionSize ?? ATTENTION_DEFAULTS.projectionSize,
      embeddingSize: o.embeddingSize ?? ATTENTION_DEFAULTS.embeddingSize,
      hiddenSize: o.hiddenSize ?? ATTENTION_DEFAULTS.hiddenSize,
      attentionSize: o.attentionSize ?? ATTENTION_DEFAULTS.attentionSize,
      attentionPenalty: o.attentionPenalty ?? ATTENTION_DEFAULTS.attentionPenalty,
    };
  },
  sizesFrom: (m) => ({
    vocabSize: metaNumber(m, 'vocabSize'),
    featureSize: metaNumber(m, 'featureSize'),
    dropout: metaNumber(m, 'dropout'),
    mapHeight: metaNumber(m, 'mapHeight'),
    mapWidth: metaNumber(m, 'mapWidth'),
    channels: metaNumber(m, 'channels'),
    projectionSize: metaNumber(m, 'projectionSize'),
    embeddingSize: metaNumber(m, 'embeddingSize'),
    hiddenSize: metaNumber(m, 'hiddenSize'),
    attentionSize: metaNumber(m, 'attentionSize'),
    attentionPenalty: metaNumber(m, 'attentionPenalty'),
  }),
  weightShapes,
  initialWeights,
  // As in the authors' code: dropout on the hidden state where it enters the output (not in the
  // recurrence, so search needs no masks) and on the deep output before the vocabulary layer.
  dropoutSites: (s) => [
    { name: 'hidden', per: 'token', width: s.hiddenSize },
    { name: 'output', per: 'token', width: s.embeddingSize },
  ],
  featureShape: (s) => [regionsOf(s), s.channels],

  teacherForced,

  /** State: [regions [B, R, D], regionKeys [B, R, A], h [B, hidden], c [B, hidden]]. */
  initState(ops, w, features, sizes) {
    const enc = encode(ops, w, features, ops.shape(features)[0], sizes);
    return [enc.regions, enc.regionKeys, enc.h, enc.c];
  },

  step(ops, w, { tokens, state }, sizes) {
    const [regions, regionKeys, hPrev, cPrev] = state;
    const emb = ops.gather(w[names.embedding], tokens); // [B, E]
    const { alpha, context } = attend(ops, w, { regions, regionKeys }, hPrev, sizes);
    const z = ops.add(
      ops.add(
        ops.add(ops.gatherMatmul(w[names.embedding], tokens, w[names.lstmKernel]), w[names.lstmBias]),
        ops.matmul(context, w[names.lstmContext]),
      ),
      ops.matmul(hPrev, w[names.lstmRecurrent]),
    );
    const { h, c } = lstmCell(ops, z, cPrev, sizes.hiddenSize);
    const logProbs = ops.logSoftmax(deepOutput(ops, w, { e: emb, h, z: context }));
    return { logProbs, state: [regions, regionKeys, h, c], attention: alpha };
  },
};
