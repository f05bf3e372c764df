// The fused LSTM op and the host-side cross-entropy against TensorFlow.js' own autodiff of the
// same computation written with ordinary ops.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { mulberry32 } from '../../src/util/random.js';
import { lstmSequence } from '../../src/model/lstm-sequence.js';
import { crossEntropyFromLogits } from '../../src/train/objective.js';

/** The same recurrence with tf ops (autodiff gives the gradients). */
function lstmWithOps(x: tf.Tensor2D, u: tf.Tensor2D, T: number): tf.Tensor2D {
  const B = x.shape[0] / T;
  const H = u.shape[0];
  const xs = tf.split(x, T, 0);
  let h = tf.zeros([B, H]) as tf.Tensor2D;
  let c = tf.zeros([B, H]) as tf.Tensor2D;
  const hs: tf.Tensor2D[] = [];
  for (let t = 0; t < T; t++) {
    const z = tf.add(xs[t], tf.matMul(h, u)) as tf.Tensor2D;
    const [zi, zf, zc, zo] = tf.split(z, 4, 1);
    c = tf.add(tf.mul(tf.sigmoid(zf), c), tf.mul(tf.sigmoid(zi), tf.tanh(zc))) as tf.Tensor2D;
    h = tf.mul(tf.sigmoid(zo), tf.tanh(c)) as tf.Tensor2D;
    hs.push(h);
  }
  return tf.concat(hs, 0) as tf.Tensor2D;
}

const near = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number) => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  expect(worst).toBeLessThan(tol);
};

describe('lstmSequence', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('matches the op-by-op LSTM in value and in gradients (x, recurrent kernel)', () => {
    const T = 4;
    const B = 3;
    const H = 5;
    const rand = mulberry32(2);
    const x = tf.tensor2d(
      Array.from({ length: T * B * 4 * H }, () => rand() * 2 - 1),
      [T * B, 4 * H],
    );
    const u = tf.tensor2d(
      Array.from({ length: H * 4 * H }, () => rand() - 0.5),
      [H, 4 * H],
    );
    const dy = tf.tensor2d(
      Array.from({ length: T * B * H }, () => rand() - 0.5),
      [T * B, H],
    );
    const before = tf.memory().numTensors;
    const f = (fn: typeof lstmSequence) =>
      tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(fn(a as tf.Tensor2D, b as tf.Tensor2D, T), dy)));
    const [gx, gu] = f(lstmSequence)([x, u]);
    const v = lstmSequence(x, u, T);
    expect(tf.memory().numTensors).toBe(before + 3); // gx, gu, v: nothing else survives
    const [rx, ru, r] = tf.tidy(() => [...f(lstmWithOps)([x, u]), lstmWithOps(x, u, T)]);
    near(gx.dataSync(), rx.dataSync(), 1e-5);
    near(gu.dataSync(), ru.dataSync(), 1e-5);
    near(v.dataSync(), r.dataSync(), 1e-6);
    tf.dispose([gx, gu, rx, ru, v, r]);
    tf.dispose([x, u, dy]);
  });

  it('cross-entropy, accuracy and gradient match softmax computed with ops', () => {
    const rand = mulberry32(5);
    const N = 6;
    const V = 7;
    const logits = Float32Array.from({ length: N * V }, () => rand() * 6 - 3);
    const targets = Int32Array.from({ length: N }, (_, i) => (i * 3) % V);
    const grad = new Float32Array(N * V);
    const r = crossEntropyFromLogits(logits, targets, V, { grad });
    const lt = tf.tensor2d(logits, [N, V]);
    const oneHot = tf.oneHot(tf.tensor1d(targets, 'int32'), V);
    const lossOf = (l: tf.Tensor) => tf.mean(tf.neg(tf.sum(tf.mul(tf.logSoftmax(l), oneHot), 1)));
    expect(r.loss).toBeCloseTo(lossOf(lt).dataSync()[0], 5);
    near(grad, tf.grad(lossOf)(lt).dataSync(), 1e-6);
    const argmax = tf.argMax(lt, 1).dataSync();
    expect(r.correct).toBe([...targets].filter((t, i) => argmax[i] === t).length);
  });
});
