// The Keras tutorial's "merge" caption decoder: the image vector and the LSTM's reading of the words
// so far are added, then two dense layers predict the next word. Written over Ops (src/model/ops.ts):
// fused LSTM gates, the input projection of all time steps in one matmul, the recurrence as one op.
//
// image [B, featureSize] -> Dropout -> Dense(hiddenSize, relu) ---------------------------+
// tokens [B, T] -> Embedding(vocabSize, embeddingSize) -> Dropout -> LSTM(hiddenSize) -> add -> Dense(hiddenSize, relu) -> Dense(vocabSize)
//
// Weight layout (row-major float32, in WEIGHT_NAMES order; kernels are [in, out] as in Keras):
//   embedding      [vocabSize, embeddingSize]      row 0 (padding) is never read by a scored position
//   image.kernel   [featureSize, hiddenSize]       image.bias [hiddenSize]
//   lstm.kernel    [embeddingSize, 4*hiddenSize]   gate blocks in Keras order i, f, c, o
//   lstm.recurrent [hiddenSize, 4*hiddenSize]      lstm.bias [4*hiddenSize] (forget block starts at 1)
//   decoder.kernel [hiddenSize, hiddenSize]        decoder.bias [hiddenSize]
//   output.kernel  [hiddenSize, vocabSize]         output.bias [vocabSize]
import { metaNumber, type BaseSizes, type DecoderSpec, type Weights } from './decoder.js';
import { mulberry32 } from '../util/random.js';
import { glorotUniform, orthogonal, uniform } from './init.js';
import { dense, lstmCell, type Ops } from './ops.js';

export const ARCHITECTURE = 'merge-lstm';

export interface MergeLstmSizes extends BaseSizes {
  embeddingSize: number;
  hiddenSize: number;
}

export const WEIGHT_NAMES = [
  'embedding',
  'image.kernel',
  'image.bias',
  'lstm.kernel',
  'lstm.recurrent',
  'lstm.bias',
  'decoder.kernel',
  'decoder.bias',
  'output.kernel',
  'output.bias',
] as const;
export type WeightName = (typeof WEIGHT_NAMES)[number];
export type { Weights };

export function weightShapes(s: MergeLstmSizes): Record<WeightName, number[]> {
  const h = s.hiddenSize;
  return {
    embedding: [s.vocabSize, s.embeddingSize],
    'image.kernel': [s.featureSize, h],
    'image.bias': [h],
    'lstm.kernel': [s.embeddingSize, 4 * h],
    'lstm.recurrent': [h, 4 * h],
    'lstm.bias': [4 * h],
    'decoder.kernel': [h, h],
    'decoder.bias': [h],
    'output.kernel': [h, s.vocabSize],
    'output.bias': [s.vocabSize],
  };
}

/** Keras' default initialisation, seeded. */
export function initialWeights(s: MergeLstmSizes, seed: number): Weights {
  const rand = mulberry32(seed);
  const h = s.hiddenSize;
  const lstmBias = new Float32Array(4 * h);
  lstmBias.fill(1, h, 2 * h); // unit_forget_bias: remember by default early in training
  return {
    embedding: uniform(s.vocabSize * s.embeddingSize, 0.05, rand),
    'image.kernel': glorotUniform(s.featureSize, h, rand),
    'image.bias': new Float32Array(h),
    'lstm.kernel': glorotUniform(s.embeddingSize, 4 * h, rand),
    'lstm.recurrent': orthogonal(h, 4 * h, rand),
    'lstm.bias': lstmBias,
    'decoder.kernel': glorotUniform(h, h, rand),
    'decoder.bias': new Float32Array(h),
    'output.kernel': glorotUniform(h, s.vocabSize, rand),
    'output.bias': new Float32Array(s.vocabSize),
  };
}

/** [N, h] merged -> [N, vocab] logits. */
function head<T>(ops: Ops<T>, w: Record<string, T>, merged: T): T {
  return dense(ops, dense(ops, merged, w['decoder.kernel'], w['decoder.bias'], 'relu'), w['output.kernel'], w['output.bias']);
}

export const mergeLstm: DecoderSpec<MergeLstmSizes> = {
  architecture: ARCHITECTURE,
  description: "the Keras notebook's merge LSTM: image vector + LSTM over the words, added, then two dense layers",
  features: 'pooled',
  sizesFor: (data, o) => ({
    vocabSize: data.vocabSize,
    featureSize: data.featureShape[0],
    dropout: data.dropout,
    embeddingSize: o.embeddingSize ?? 256, // the Keras tutorial's sizes
    hiddenSize: o.hiddenSize ?? 256,
  }),
  sizesFrom: (m) => ({
    vocabSize: metaNumber(m, 'vocabSize'),
    featureSize: metaNumber(m, 'featureSize'),
    dropout: metaNumber(m, 'dropout'),
    embeddingSize: metaNumber(m, 'embeddingSize'),
    hiddenSize: metaNumber(m, 'hiddenSize'),
  }),
  weightShapes: (s) => {
    const shapes = weightShapes(s);
    return WEIGHT_NAMES.map((n) => [n, shapes[n]]);
  },
  initialWeights,
  // Keras' Dropout layers of the notebook: on the image vector, and on each word's embedding.
  dropoutSites: (s) => [
    { name: 'features', per: 'caption', width: s.featureSize },
    { name: 'embeddings', per: 'token', width: s.embeddingSize },
  ],
  featureShape: (s) => [s.featureSize],

  teacherForced(ops, w, batch, { sizes, training }) {
    let emb = ops.gather(w.embedding, batch.inputs); // [T*B, E]
    let img = batch.features; // [B, D]
    if (training && sizes.dropout > 0) {
      // Masks come with the batch (src/train/dropout.ts): the same for any split of a batch.
      const { features, embeddings } = batch.masks;
      if (!features || !embeddings) throw new Error("merge-lstm: training with dropout needs the batch's dropout masks");
      emb = ops.mul(emb, embeddings);
      img = ops.mul(img, features);
    }
    // All input projections at once: [T*B, 4h], then the recurrence as one op.
    const xProj = ops.add(ops.matmul(emb, w['lstm.kernel']), w['lstm.bias']);
    const seq = ops.lstmSequence(xProj, w['lstm.recurrent'], batch.timeSteps); // [T*B, h]
    const imgProj = dense(ops, img, w['image.kernel'], w['image.bias'], 'relu'); // [B, h]
    // Each position plus its caption's image, added over the whole [T, B] grid before the scored rows
    // are gathered: the image's gradient is then a sum over time steps, not a scatter-add by caption
    // (serial in ONNX Runtime, 2.5% of a step; the values are the same sums either way).
    const { batchSize: B, timeSteps: T } = batch;
    const h = sizes.hiddenSize;
    const grid = ops.add(ops.reshape(seq, [T, B, h]), ops.reshape(imgProj, [1, B, h])); // [T, B, h]
    const merged = ops.gather(ops.reshape(grid, [T * B, h]), batch.rows); // [N, h]
    return { logits: head(ops, w, merged) };
  },

  /** State: [imageProjection [B, h], h [B, h], c [B, h]]. */
  initState(ops, w, features) {
    const imgProj = dense(ops, features, w['image.kernel'], w['image.bias'], 'relu');
    return [imgProj, ops.scale(imgProj, 0), ops.scale(imgProj, 0)]; // h and c start at zero
  },

  step(ops, w, { tokens, state }, sizes) {
    const [imgProj, hPrev, cPrev] = state;
    const xProj = ops.gatherMatmul(w.embedding, tokens, w['lstm.kernel']);
    const z = ops.add(ops.add(xProj, w['lstm.bias']), ops.matmul(hPrev, w['lstm.recurrent']));
    const { h, c } = lstmCell(ops, z, cPrev, sizes.hiddenSize);
    const logProbs = ops.logSoftmax(head(ops, w, ops.add(h, imgProj)));
    return { logProbs, state: [imgProj, h, c] };
  },
};
