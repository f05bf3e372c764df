// The training objective on the tfjs engine: sparse next-word cross-entropy at every scored
// (non-padding) position (optionally label-smoothed for the gradient; the reported loss is never
// smoothed), plus the decoder's penalty, and the same positions' accuracy. Padding never reaches
// here: the decoders gather scored rows only.
//
// The loss, on every engine (here, the ONNX graph in src/engine/onnx/trainer.ts, the test reference
// in test/engine/compare.ts): with w_b the weight of caption b (HostBatch.weights) and N the batch's
// scored words,
//   loss = (1/N) sum over scored words i of w_b(i) * CE_i  (+ the decoder's penalty, unweighted),
// CE_i = -sum_v q_iv log p_iv, q = (1 - eps) one-hot(target) + eps / V. A weight multiplies its
// caption's terms in the sum before the division by N (which counts words, not weights): weight 1 on
// every caption is plain teacher-forced cross-entropy; weight 2 gives a caption the gradient of two
// copies of it (the sum over words, loss x N, equals the batch with the caption twice); weight 0
// drops it; a negative weight pushes its words' probabilities down (self-critical training).
// Captions sampled from the model (self-critical training; HostBatch.sampled) are scored under the
// distribution they were drawn from: p renormalised over the words sampling allows (no pad, start or
// unk; no end token as a first word: src/decode/candidates.ts refusedWords), so those words get no
// probability, loss or gradient. (Under the full softmax, a refused word that takes mass is never
// sampled, so never pushed down by a sample's reward: on Flickr8k <unk> had taken 0.99 of the first
// word's probability within three epochs.) Label smoothing does not apply to sampled captions.
// Two implementations, tested equal (test/train/objective.test.ts):
// - host backends (WASM, cpu): softmax, loss, accuracy and the gradient together in plain JS from
//   one read of the logits, in place in backend memory (src/backend/host-io.ts): there the
//   equivalent ops over [N, vocab] cost more than the output layer's matmul;
// - native backends (tfjs-node, tfjs-node-gpu): tfjs ops only, one read of [loss, correct] at the end.
import * as tf from '@tensorflow/tfjs';
import { withFloatViews } from '../backend/host-io.js';
import { ScratchPool } from '../util/scratch.js';
import type { TfjsDecoder } from '../engine/tfjs-decoder.js';
import { hostBackend } from '../engine/tfjs-ops.js';
import type { DeviceBatch } from './batches.js';
import { REFUSED_LOGIT, refusedWords } from '../decode/candidates.js';

export interface CrossEntropy {
  /** Weighted mean loss over the N positions (the plain mean when every weight is 1). */
  loss: number;
  /** Positions whose most likely word is the target. */
  correct: number;
}

export interface CrossEntropyOptions {
  /** [N, V]: when given, d(loss)/d(logits) goes here. */
  grad?: Float32Array;
  /** Label smoothing of the gradient's targets (0 = none); the loss reported is never smoothed. */
  labelSmoothing?: number;
  /** [N] each position's weight, its caption's (absent = 1 everywhere). */
  rowWeights?: Float32Array;
  /** Sampled targets (see the top of this file): [N] 1 where the row is a caption's first word. */
  firstWordRows?: Uint8Array;
}

/** [V] 1 at the words a sampled row's distribution leaves out (as a first word or not). */
function refusedMasks(vocabSize: number): [Uint8Array, Uint8Array] {
  return [false, true].map((first) => {
    const m = new Uint8Array(vocabSize);
    for (const w of refusedWords(first)) if (w < vocabSize) m[w] = 1;
    return m;
  }) as [Uint8Array, Uint8Array];
}

/** logits [N, V] row-major, targets [N] -> the (weighted) mean loss and correct count, and optionally its gradient. */
export function crossEntropyFromLogits(
  logits: Float32Array,
  targets: Int32Array,
  vocabSize: number,
  opts: CrossEntropyOptions = {},
): CrossEntropy {
  const { grad, rowWeights, firstWordRows } = opts;
  const labelSmoothing = opts.labelSmoothing ?? 0;
  if (firstWordRows && labelSmoothing > 0) throw new Error('crossEntropyFromLogits: sampled captions take no label smoothing');
  const masks = firstWordRows && refusedMasks(vocabSize);
  const n = targets.length;
  let lossSum = 0;
  let correct = 0;
  let scratch: Float32Array | undefined;
  for (let r = 0; r < n; r++) {
    const base = r * vocabSize;
    const w = rowWeights ? rowWeights[r] : 1;
    const refused = masks && firstWordRows ? masks[firstWordRows[r]] : undefined;
    let max = -Infinity;
    let arg = 0;
    for (let j = 0; j < vocabSize; j++) {
      const v = logits[base + j];
      if (v > max && !refused?.[j]) {
        max = v;
        arg = j;
      }
    }
    // exp(logit - max) once, kept in the gradient buffer (or a row scratch) and scaled in place.
    const e = grad ? grad.subarray(base, base + vocabSize) : (scratch ??= new Float32Array(vocabSize));
    let sum = 0;
    for (let j = 0; j < vocabSize; j++) {
      const x = refused?.[j] ? 0 : Math.exp(logits[base + j] - max);
      e[j] = x;
      sum += x;
    }
    const lse = max + Math.log(sum);
    const target = targets[r];
    lossSum += w * (lse - logits[base + target]);
    if (arg === target) correct++;
    if (grad) {
      // w (softmax - q) / n with q = (1 - eps) one-hot + eps / V (w = 1: the same numbers as without weights)
      const scale = w / (sum * n);
      const floor = (labelSmoothing * w) / (vocabSize * n);
      for (let j = 0; j < vocabSize; j++) e[j] = e[j] * scale - floor;
      e[target] -= ((1 - labelSmoothing) * w) / n;
    }
  }
  return { loss: n ? lossSum / n : NaN, correct };
}

export interface BatchResult {
  /** Weighted mean loss over the batch's scored positions (see the top of this file). */
  loss: number;
  correct: number;
}

/** Loss (and accuracy) of a batch, no gradients: validation. */
export function evaluateBatch(model: TfjsDecoder, batch: DeviceBatch): BatchResult {
  const logits = model.logits(batch, { training: false });
  let r: CrossEntropy = { loss: NaN, correct: 0 };
  withFloatViews([logits], [], ([values]) => {
    r = crossEntropyFromLogits(values, batch.targetIds, model.vocabSize, {
      rowWeights: batch.rowWeights,
      firstWordRows: batch.firstWordRows,
    });
  });
  logits.dispose();
  return r;
}

/** Holds the gradient of the last forward pass between the forward and backward halves of a step. */
const scratch = new ScratchPool();

export interface ObjectiveOptions {
  /** Label smoothing of the training targets (0 = none). */
  labelSmoothing: number;
  /** Force the tfjs-ops implementation (tests; it is the default on native backends). */
  opsOnly?: boolean;
}

/** Loss and gradients of a training batch (its dropout masks applied). grads are in model.variables order. */
export function lossAndGrads(model: TfjsDecoder, batch: DeviceBatch, opts: ObjectiveOptions): BatchResult & { grads: tf.Tensor[] } {
  if (opts.opsOnly || !hostBackend()) return lossAndGradsOps(model, batch, opts);
  let result: CrossEntropy | undefined;
  const lossOp = tf.customGrad(((logits: tf.Tensor) => {
    const size = logits.size;
    // Reused from step to step: a fresh [N, vocab] array each step costs page faults (see host-io.ts).
    const grad = scratch.get('grad', size);
    withFloatViews([logits], [], ([values]) => {
      result = crossEntropyFromLogits(values, batch.targetIds, model.vocabSize, {
        grad,
        labelSmoothing: batch.firstWordRows ? 0 : opts.labelSmoothing,
        rowWeights: batch.rowWeights,
        firstWordRows: batch.firstWordRows,
      });
    });
    return {
      value: tf.scalar((result as CrossEntropy).loss),
      gradFunc: (dy: tf.Tensor) => {
        const [out] = withFloatViews([dy], [logits.shape], ([d], [g]) => {
          const scale = d[0];
          if (scale === 1) g.set(grad);
          else for (let i = 0; i < size; i++) g[i] = grad[i] * scale;
        });
        return out;
      },
    };
  }) as never) as (logits: tf.Tensor) => tf.Scalar;
  const { value, grads } = tf.variableGrads(() => {
    const out = model.forward(batch, { training: true });
    const loss = lossOp(out.logits);
    return out.penalty ? (tf.add(loss, tf.sum(out.penalty)) as tf.Scalar) : loss;
  }, model.variables);
  value.dispose();
  const r = result as CrossEntropy;
  return { loss: r.loss, correct: r.correct, grads: model.variables.map((v) => grads[v.name]) };
}

/** The same with tfjs ops only: no host read until the step's [loss, correct] (one read per step). */
function lossAndGradsOps(model: TfjsDecoder, batch: DeviceBatch, opts: ObjectiveOptions): BatchResult & { grads: tf.Tensor[] } {
  const targets = tf.tensor1d(batch.targetIds, 'int32');
  const weights = batch.rowWeights && tf.tensor2d(batch.rowWeights, [batch.rowWeights.length, 1]);
  const weigh = (x: tf.Tensor) => (weights ? tf.mul(x, weights) : x);
  const refuse = batch.firstWordRows && refusedBias(batch.firstWordRows, model.vocabSize);
  let report: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const out = model.forward(batch, { training: true });
    const logits = refuse ? tf.add(out.logits, refuse) : out.logits;
    const logp = tf.logSoftmax(logits);
    const oneHot = tf.oneHot(targets, model.vocabSize);
    const plain = tf.neg(tf.mean(tf.sum(weigh(tf.mul(logp, oneHot)), 1)));
    const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), targets), 'float32'));
    report = tf.keep(tf.stack([plain, correct]));
    const eps = refuse ? 0 : opts.labelSmoothing;
    const trained =
      eps > 0 ? tf.neg(tf.mean(tf.sum(weigh(tf.mul(logp, tf.add(tf.mul(oneHot, 1 - eps), eps / model.vocabSize))), 1))) : plain;
    return (out.penalty ? tf.add(trained, tf.sum(out.penalty)) : trained) as tf.Scalar;
  }, model.variables);
  value.dispose();
  targets.dispose();
  weights?.dispose();
  refuse?.dispose();
  const [loss, correct] = (report as tf.Tensor).dataSync();
  (report as tf.Tensor).dispose();
  return { loss, correct, grads: model.variables.map((v) => grads[v.name]) };
}

/**
 * [N, V] for the tfjs ops: REFUSED_LOGIT at each row's refused words, 0 elsewhere.
 */
function refusedBias(firstWordRows: Uint8Array, vocabSize: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [always, first] = refusedMasks(vocabSize).map((m) =>
      tf.tensor2d(
        Float32Array.from(m, (x) => x * REFUSED_LOGIT),
        [1, vocabSize],
      ),
    );
    const firstRows = tf.tensor2d(Float32Array.from(firstWordRows), [firstWordRows.length, 1]);
    // first-word rows: the first-word mask; the others: the plain one
    return tf.add(tf.mul(firstRows, first), tf.mul(tf.sub(1, firstRows), always)) as tf.Tensor2D;
  });
}
