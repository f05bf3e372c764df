// Adam with global-norm clipping as tfjs ops on the backend's own memory: the optimizer of the native
// backends (tfjs-node, tfjs-node-gpu), where reading every gradient to the host each step would
// stall the device. The same update as src/train/adam.ts (tested equal), in float32 on the device;
// the moments and weights are read back only for checkpoints.
import * as tf from '@tensorflow/tfjs';
import type { AdamOptions, AdamState } from './adam.js';

export class DeviceAdam {
  learningRate: number;
  step = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly clipNorm: number;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];

  constructor(
    private readonly params: tf.Variable[],
    opts: AdamOptions,
  ) {
    this.learningRate = opts.learningRate;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-7;
    this.clipNorm = opts.clipNorm;
    this.m = params.map((p) => tf.variable(tf.zerosLike(p), false));
    this.v = params.map((p) => tf.variable(tf.zerosLike(p), false));
  }

  /** One update; grads in params order (the caller disposes them). No host reads. */
  apply(grads: tf.Tensor[]): void {
    this.step++;
    const t = this.step;
    // Step size with both bias corrections folded in, as Keras and the host version compute it.
    const lrT = (this.learningRate * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
    tf.tidy(() => {
      let scale: tf.Tensor = tf.scalar(1);
      if (this.clipNorm > 0) {
        const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g)))));
        scale = tf.where(tf.greater(norm, this.clipNorm), tf.div(this.clipNorm, norm), tf.scalar(1));
      }
      grads.forEach((g, k) => {
        const x = tf.mul(g, scale);
        const m = tf.add(tf.mul(this.m[k], this.beta1), tf.mul(x, 1 - this.beta1));
        const v = tf.add(tf.mul(this.v[k], this.beta2), tf.mul(tf.square(x), 1 - this.beta2));
        this.m[k].assign(m);
        this.v[k].assign(v);
        this.params[k].assign(tf.sub(this.params[k], tf.div(tf.mul(m, lrT), tf.add(tf.sqrt(v), this.epsilon))));
      });
    });
  }

  /** The current weights, read from the device (for checkpoints). */
  currentWeights(): Float32Array[] {
    return this.params.map((p) => p.dataSync() as Float32Array);
  }

  getState(): AdamState {
    return { step: this.step, m: this.m.map((a) => a.dataSync() as Float32Array), v: this.v.map((a) => a.dataSync() as Float32Array) };
  }

  setState(state: AdamState): void {
    this.step = state.step;
    state.m.forEach((a, k) => tf.tidy(() => this.m[k].assign(tf.tensor(a, this.m[k].shape))));
    state.v.forEach((a, k) => tf.tidy(() => this.v[k].assign(tf.tensor(a, this.v[k].shape))));
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}
