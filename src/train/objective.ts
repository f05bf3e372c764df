// The training objective: sparse next-word cross-entropy at every scored (non-padding) position,
// and the same positions' accuracy. Padding never reaches here: the model gathers scored rows only.
import * as tf from '@tensorflow/tfjs';
import type { MergeLstm } from '../model/merge-lstm.js';
import type { DeviceBatch } from './batches.js';

/** logits [N, V], targets [N] int32 -> per-position loss [N]. */
export function sparseCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const picked = tf.sum(tf.mul(logits, tf.oneHot(targets, logits.shape[1])), 1);
    return tf.sub(tf.logSumExp(logits, 1), picked) as tf.Tensor1D;
  });
}

/** Number of positions whose most likely word is the target (a scalar, not read back). */
export function correctCount(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.equal(tf.argMax(logits, 1), targets).toFloat()) as tf.Scalar);
}

export interface BatchResult {
  /** Mean loss over the batch's scored positions. */
  loss: tf.Scalar;
  correct: tf.Scalar;
}

/** Loss (and accuracy) of a batch, no gradients: validation. */
export function evaluateBatch(model: MergeLstm, batch: DeviceBatch): BatchResult {
  return tf.tidy(() => {
    const logits = model.logits(batch, { training: false });
    return { loss: tf.mean(sparseCrossEntropy(logits, batch.targets)) as tf.Scalar, correct: correctCount(logits, batch.targets) };
  });
}

/** Loss and gradients of a training batch (dropout seeded). grads are in model.variables order. */
export function lossAndGrads(model: MergeLstm, batch: DeviceBatch, seed: number): BatchResult & { grads: tf.Tensor[] } {
  let correct: tf.Scalar | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.logits(batch, { training: true, seed });
    correct = tf.keep(correctCount(logits, batch.targets));
    return tf.mean(sparseCrossEntropy(logits, batch.targets)) as tf.Scalar;
  }, model.variables);
  return { loss: value, correct: correct as tf.Scalar, grads: model.variables.map((v) => grads[v.name]) };
}
