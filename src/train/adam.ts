// Adam with global-norm gradient clipping, with its state (moments, step) as plain arrays so that
// a checkpoint can save it and a resumed run continues exactly where it stopped.
import * as tf from '@tensorflow/tfjs';

export interface AdamOptions {
  learningRate: number;
  /** Keras' defaults. */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Clip gradients to this global L2 norm; 0 turns clipping off. */
  clipNorm: number;
}

export interface AdamState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export class Adam {
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

  /** One update; grads in params order (the caller disposes them). Nothing is read back. */
  apply(grads: tf.Tensor[]): void {
    this.step++;
    const t = this.step;
    const lrT = (this.learningRate * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
    tf.tidy(() => {
      let scale: tf.Tensor | undefined;
      if (this.clipNorm > 0) {
        const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g)))));
        scale = tf.div(this.clipNorm, tf.maximum(norm, this.clipNorm));
      }
      grads.forEach((raw, i) => {
        const g = scale ? tf.mul(raw, scale) : raw;
        const m = tf.add(tf.mul(this.m[i], this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(this.v[i], this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        this.params[i].assign(tf.sub(this.params[i], tf.mul(lrT, tf.div(m, tf.add(tf.sqrt(v), this.epsilon)))));
      });
    });
  }

  getState(): AdamState {
    return {
      step: this.step,
      m: this.m.map((x) => new Float32Array(x.dataSync() as Float32Array)),
      v: this.v.map((x) => new Float32Array(x.dataSync() as Float32Array)),
    };
  }

  setState(state: AdamState): void {
    this.step = state.step;
    state.m.forEach((a, i) => tf.tidy(() => this.m[i].assign(tf.tensor(a, this.m[i].shape))));
    state.v.forEach((a, i) => tf.tidy(() => this.v[i].assign(tf.tensor(a, this.v[i].shape))));
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}
