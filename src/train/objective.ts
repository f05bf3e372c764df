// The training objective: sparse next-word cross-entropy at every scored (non-padding) position,
// and the same positions' accuracy. Padding never reaches here: the model gathers scored rows only.
// Softmax, loss, accuracy and the gradient are computed together in plain JS from one read of the
// logits: on WASM the equivalent backend ops (broadcast max/sub/equal over [N, vocab]) cost more
// than the output layer's matmul; the loss is then known without another read-back. The logits are
// read, and the gradient written, in place in backend memory (src/backend/host-io.ts).
import * as tf from '@tensorflow/tfjs';
import { withFloatViews } from '../backend/host-io.js';
import { ScratchPool } from '../util/scratch.js';
import type { MergeLstm } from '../model/merge-lstm.js';
import type { DeviceBatch } from './batches.js';

export interface CrossEntropy {
  /** Mean loss over the N positions. */
  loss: number;
  /** Positions whose most likely word is the target. */
  correct: number;
}

/**
 * logits [N, V] row-major, targets [N] -> mean loss and correct count; when `grad` ([N, V]) is
 * given, also d(mean loss)/d(logits) into it.
 */
export function crossEntropyFromLogits(logits: Float32Array, targets: Int32Array, vocabSize: number, grad?: Float32Array): CrossEntropy {
  const n = targets.length;
  let lossSum = 0;
  let correct = 0;
  let scratch: Float32Array | undefined;
  for (let r = 0; r < n; r++) {
    const base = r * vocabSize;
    let max = -Infinity;
    let arg = 0;
    for (let j = 0; j < vocabSize; j++) {
      const v = logits[base + j];
      if (v > max) {
        max = v;
        arg = j;
      }
    }
    // exp(logit - max) once, kept in the gradient buffer (or a row scratch) and scaled in place.
    const e = grad ? grad.subarray(base, base + vocabSize) : (scratch ??= new Float32Array(vocabSize));
    let sum = 0;
    for (let j = 0; j < vocabSize; j++) {
      const x = Math.exp(logits[base + j] - max);
      e[j] = x;
      sum += x;
    }
    const lse = max + Math.log(sum);
    const target = targets[r];
    lossSum += lse - logits[base + target];
    if (arg === target) correct++;
    if (grad) {
      const scale = 1 / (sum * n);
      for (let j = 0; j < vocabSize; j++) e[j] *= scale;
      e[target] -= 1 / n;
    }
  }
  return { loss: n ? lossSum / n : NaN, correct };
}

export interface BatchResult {
  /** Mean loss over the batch's scored positions. */
  loss: number;
  correct: number;
}

/** Loss (and accuracy) of a batch, no gradients: validation. */
export function evaluateBatch(model: MergeLstm, batch: DeviceBatch): BatchResult {
  const logits = model.logits(batch, { training: false });
  let r: CrossEntropy = { loss: NaN, correct: 0 };
  withFloatViews([logits], [], ([values]) => {
    r = crossEntropyFromLogits(values, batch.targetIds, model.vocabSize);
  });
  logits.dispose();
  return r;
}

/** Holds the gradient of the last forward pass between the forward and backward halves of a step. */
const scratch = new ScratchPool();

/** Loss and gradients of a training batch (its dropout masks applied). grads are in model.variables order. */
export function lossAndGrads(model: MergeLstm, batch: DeviceBatch): BatchResult & { grads: tf.Tensor[] } {
  let result: CrossEntropy | undefined;
  const lossOp = tf.customGrad(((logits: tf.Tensor) => {
    const size = logits.size;
    // Reused from step to step: a fresh [N, vocab] array each step costs page faults (see host-io.ts).
    const grad = scratch.get('grad', size);
    withFloatViews([logits], [], ([values]) => {
      result = crossEntropyFromLogits(values, batch.targetIds, model.vocabSize, grad);
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
  const { value, grads } = tf.variableGrads(() => lossOp(model.logits(batch, { training: true })), model.variables);
  value.dispose();
  const r = result as CrossEntropy;
  return { loss: r.loss, correct: r.correct, grads: model.variables.map((v) => grads[v.name]) };
}
