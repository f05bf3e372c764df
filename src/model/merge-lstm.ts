// The Keras tutorial's "merge" caption decoder, written with TensorFlow.js core ops and tf.variable
// weights (no tfjs-layers): fused LSTM gates, the input projection of all time steps in one matmul,
// the recurrence as one differentiable op (lstm-sequence.ts). Trained with teacher forcing over whole
// captions; decoded one step at a time (StepDecoder).
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
import * as tf from '@tensorflow/tfjs';
import { readInto, tensorFromHost } from '../backend/host-io.js';
import { mulberry32 } from '../util/random.js';
import { glorotUniform, orthogonal, uniform } from './init.js';
import { lstmSequence } from './lstm-sequence.js';
import type { StepDecoder } from './step-decoder.js';

export const ARCHITECTURE = 'merge-lstm';

export interface MergeLstmSizes {
  vocabSize: number;
  embeddingSize: number;
  hiddenSize: number;
  featureSize: number;
  /** Dropout rate on the image vector and on the word embeddings (training only). */
  dropout: number;
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
export type Weights = Record<WeightName, Float32Array>;

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

/** One teacher-forced batch, time-major so that each step's slice is contiguous. */
export interface SequenceBatch {
  features: tf.Tensor2D; // [B, featureSize]
  inputs: tf.Tensor2D; // [T, B] int32: start, w1..wn, then padding (0)
  /** Flat indices t*B+b of the positions that have a target (padding excluded). */
  rows: tf.Tensor1D; // [N] int32
  /** The caption (b) of each scored position. */
  rowCaption: tf.Tensor1D; // [N] int32
  /** Training with dropout: inverted-dropout masks (0 or 1/(1-rate)), drawn by the caller. */
  featureMask?: tf.Tensor2D; // [B, featureSize]
  embeddingMask?: tf.Tensor2D; // [T*B, embeddingSize]
}

export interface ForwardOptions {
  /** Apply the batch's dropout masks (required when the model has dropout). */
  training: boolean;
}

export class MergeLstm implements StepDecoder {
  readonly sizes: MergeLstmSizes;
  readonly vocabSize: number;
  /** In WEIGHT_NAMES order. */
  readonly variables: tf.Variable[];
  private readonly w: Record<WeightName, tf.Variable>;

  constructor(sizes: MergeLstmSizes, weights: Weights) {
    this.sizes = sizes;
    this.vocabSize = sizes.vocabSize;
    const shapes = weightShapes(sizes);
    this.w = {} as Record<WeightName, tf.Variable>;
    for (const name of WEIGHT_NAMES) {
      // tf.variable copies its initial value: free the temporary so load + dispose leaves nothing.
      const initial = tensorFromHost(weights[name], shapes[name]);
      this.w[name] = tf.variable(initial, true);
      initial.dispose();
    }
    this.variables = WEIGHT_NAMES.map((n) => this.w[n]);
  }

  /** Teacher forcing: logits at every scored position. Returns [N, vocabSize]. */
  logits(batch: SequenceBatch, opts: ForwardOptions): tf.Tensor2D {
    return tf.tidy(() => {
      const { w } = this;
      const h = this.sizes.hiddenSize;
      const [timeSteps, batchSize] = batch.inputs.shape;
      let emb: tf.Tensor2D = tf.gather(w.embedding, batch.inputs.reshape([timeSteps * batchSize])) as tf.Tensor2D;
      let img: tf.Tensor2D = batch.features;
      if (opts.training && this.sizes.dropout > 0) {
        // Masks come with the batch (src/train/dropout.ts): the same for any split of a batch.
        if (!batch.featureMask || !batch.embeddingMask) throw new Error('MergeLstm.logits: training with dropout needs the batch\'s dropout masks');
        emb = tf.mul(emb, batch.embeddingMask);
        img = tf.mul(img, batch.featureMask);
      }
      // All input projections at once: [T*B, 4h] -> T slices of [B, 4h].
      const xProj = tf.fused.matMul({ a: emb, b: w['lstm.kernel'] as tf.Tensor2D, bias: w['lstm.bias'] });
      const seq = lstmSequence(xProj as tf.Tensor2D, w['lstm.recurrent'] as tf.Tensor2D, timeSteps); // [T*B, h]
      const imgProj = tf.fused.matMul({ a: img, b: w['image.kernel'] as tf.Tensor2D, bias: w['image.bias'], activation: 'relu' });
      const merged = tf.add(tf.gather(seq, batch.rows), tf.gather(imgProj, batch.rowCaption)) as tf.Tensor2D; // [N, h]
      return this.head(merged);
    });
  }

  /** [N, h] merged -> [N, vocab] logits. */
  private head(merged: tf.Tensor2D): tf.Tensor2D {
    const { w } = this;
    const dec = tf.fused.matMul({ a: merged, b: w['decoder.kernel'] as tf.Tensor2D, bias: w['decoder.bias'], activation: 'relu' });
    return tf.fused.matMul({ a: dec, b: w['output.kernel'] as tf.Tensor2D, bias: w['output.bias'] }) as tf.Tensor2D;
  }

  /** State: [imageProjection [B, h], h [B, h], c [B, h]]. */
  initState(features: tf.Tensor2D): tf.Tensor[] {
    return tf.tidy(() => {
      const { w } = this;
      const imgProj = tf.fused.matMul({ a: features, b: w['image.kernel'] as tf.Tensor2D, bias: w['image.bias'], activation: 'relu' });
      const zeros = tf.zeros([features.shape[0], this.sizes.hiddenSize]);
      return [imgProj, zeros, zeros.clone()];
    });
  }

  step(tokens: tf.Tensor1D, state: tf.Tensor[]): { logProbs: tf.Tensor2D; state: tf.Tensor[] } {
    return tf.tidy(() => {
      const { w } = this;
      const [imgProj, hPrev, cPrev] = state as tf.Tensor2D[];
      const emb = tf.gather(w.embedding, tokens.toInt()) as tf.Tensor2D;
      const xProj = tf.fused.matMul({ a: emb, b: w['lstm.kernel'] as tf.Tensor2D, bias: w['lstm.bias'] });
      const z = tf.add(xProj, tf.matMul(hPrev, w['lstm.recurrent'] as tf.Tensor2D)) as tf.Tensor2D;
      const [c, h] = lstmCell(z, cPrev, this.sizes.hiddenSize);
      const logProbs = tf.logSoftmax(this.head(tf.add(h, imgProj) as tf.Tensor2D)) as tf.Tensor2D;
      return { logProbs, state: [imgProj.clone(), h, c] };
    });
  }

  /** Current weights as plain arrays (reads the backend: not for the hot loop). */
  getWeights(): Weights {
    const out = {} as Weights;
    for (const name of WEIGHT_NAMES) {
      out[name] = new Float32Array(this.w[name].size);
      readInto(this.w[name], out[name]);
    }
    return out;
  }

  /** Copies `weights` in (the arrays stay the caller's; later changes to them do not reach the model). */
  setWeights(weights: Weights): void {
    const shapes = weightShapes(this.sizes);
    for (const name of WEIGHT_NAMES) tf.tidy(() => this.w[name].assign(tensorFromHost(weights[name], shapes[name])));
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/** z [B, 4h] (pre-activations, gate blocks i, f, c, o), c [B, h] or none (zeros) -> [c, h]. */
function lstmCell(z: tf.Tensor2D, cPrev: tf.Tensor2D | undefined, h: number): [tf.Tensor2D, tf.Tensor2D] {
  const [zi, zf, zc, zo] = tf.split(z, [h, h, h, h], 1);
  const i = tf.sigmoid(zi);
  const candidate = tf.mul(i, tf.tanh(zc));
  const c = (cPrev ? tf.add(tf.mul(tf.sigmoid(zf), cPrev), candidate) : candidate) as tf.Tensor2D;
  const hNext = tf.mul(tf.sigmoid(zo), tf.tanh(c)) as tf.Tensor2D;
  return [c, hNext];
}
