// Ops (src/model/ops.ts) on TensorFlow.js, executed eagerly: tfjs' autodiff differentiates them.
// This is the reference engine, and the one for the native backends (tfjs-node, tfjs-node-gpu).
// `fused` picks the WASM/cpu fast path for the LSTM recurrence (gates in plain JS, see
// src/model/lstm-sequence.ts); without it the recurrence is tfjs ops only, with no host reads,
// which is what a GPU needs (one device-to-host sync per word would stall it).
import * as tf from '@tensorflow/tfjs';
import { lstmSequence } from '../model/lstm-sequence.js';
import { unrolledLstm, type Ops, type Shape } from '../model/ops.js';

export class TfjsOps implements Ops<tf.Tensor> {
  readonly kind = 'tfjs' as const;

  constructor(private readonly opts: { fused: boolean }) {}

  shape(x: tf.Tensor): Shape {
    return x.shape;
  }
  constant(values: Float32Array, shape: Shape): tf.Tensor {
    return tf.tensor(values, [...shape], 'float32');
  }
  matmul(a: tf.Tensor, b: tf.Tensor, opts: { transposeB?: boolean } = {}): tf.Tensor {
    const transposeB = opts.transposeB ?? false;
    if (a.rank === 2 || b.rank === a.rank) return tf.matMul(a, b, false, transposeB);
    // [..., M, K] x [K, N]: fold the leading dimensions into M.
    const k = a.shape[a.rank - 1] as number;
    const out = tf.matMul(a.reshape([-1, k]), b, false, transposeB);
    return out.reshape([...a.shape.slice(0, -1), out.shape[1] as number]);
  }
  add(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return tf.add(a, b);
  }
  sub(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return tf.sub(a, b);
  }
  mul(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return tf.mul(a, b);
  }
  scale(x: tf.Tensor, k: number): tf.Tensor {
    return tf.mul(x, tf.scalar(k));
  }
  sigmoid(x: tf.Tensor): tf.Tensor {
    return tf.sigmoid(x);
  }
  tanh(x: tf.Tensor): tf.Tensor {
    return tf.tanh(x);
  }
  relu(x: tf.Tensor): tf.Tensor {
    return tf.relu(x);
  }
  exp(x: tf.Tensor): tf.Tensor {
    return tf.exp(x);
  }
  sqrt(x: tf.Tensor): tf.Tensor {
    return tf.sqrt(x);
  }
  reciprocal(x: tf.Tensor): tf.Tensor {
    return tf.reciprocal(x);
  }
  softmax(x: tf.Tensor): tf.Tensor {
    return tf.softmax(x);
  }
  logSoftmax(x: tf.Tensor): tf.Tensor {
    return tf.logSoftmax(x);
  }
  sum(x: tf.Tensor, axes: number[], keepDims = false): tf.Tensor {
    return tf.sum(x, axes, keepDims);
  }
  mean(x: tf.Tensor, axes: number[], keepDims = false): tf.Tensor {
    return tf.mean(x, axes, keepDims);
  }
  reshape(x: tf.Tensor, shape: Shape): tf.Tensor {
    return tf.reshape(x, [...shape]);
  }
  transpose(x: tf.Tensor, perm: number[]): tf.Tensor {
    return tf.transpose(x, perm);
  }
  concat(xs: tf.Tensor[], axis: number): tf.Tensor {
    return tf.concat(xs, axis);
  }
  split(x: tf.Tensor, sizes: number[], axis: number): tf.Tensor[] {
    return tf.split(x, sizes, axis);
  }
  gather(x: tf.Tensor, ids: tf.Tensor): tf.Tensor {
    return tf.gather(x, ids.dtype === 'int32' ? ids : ids.toInt());
  }
  gatherMatmul(table: tf.Tensor, ids: tf.Tensor, kernel: tf.Tensor): tf.Tensor {
    return this.matmul(this.gather(table, ids), kernel);
  }

  lstmSequence(xProj: tf.Tensor, recurrent: tf.Tensor, timeSteps: number): tf.Tensor {
    if (this.opts.fused) return lstmSequence(xProj as tf.Tensor2D, recurrent as tf.Tensor2D, timeSteps);
    return unrolledLstm(this, xProj, recurrent, timeSteps);
  }
}

/** Backends whose host memory is the tensors' memory: there the JS fast paths pay off. */
export function hostBackend(name = tf.getBackend()): boolean {
  return name === 'wasm' || name === 'cpu';
}
