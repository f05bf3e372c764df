// Adam with global-norm gradient clipping, computed in plain JS on host copies of the parameters.
// On WASM the same update as backend ops costs ~10 elementwise kernels per weight (scalar broadcasts
// are slow there); one pass in JS is several times cheaper, and the state (moments, step) is
// already plain arrays for checkpoints, so a resumed run continues exactly where it stopped.
import * as tf from '@tensorflow/tfjs';
import { tensorFromHost, withFloatViews } from '../backend/host-io.js';

export interface AdamOptions {
  learningRate: number;
  /** Keras' defaults. */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Clip gradients to this global L2 norm; 0 turns clipping off. */
  clipNorm: number;
  /**
   * Keep the weights in SharedArrayBuffers (default), for gradient replicas in worker threads.
   * The ONNX engine needs plain ArrayBuffers: onnxruntime-node refuses shared memory as input.
   */
  sharedMemory?: boolean;
}

export interface AdamState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

/**
 * The update of one parameter array, in place. Everything arrives as a local (no closure
 * variables in the loop): V8 then keeps the loop in registers, faster than a closure.
 */
function adamKernel(
  a: { g: Float32Array; m: Float32Array; v: Float32Array; w: Float32Array },
  scale: number,
  lrT: number,
  b1: number,
  b2: number,
  eps: number,
): void {
  const { g, m, v, w } = a;
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  for (let i = 0; i < g.length; i++) {
    const x = g[i] * scale;
    const mi = b1 * m[i] + c1 * x;
    const vi = b2 * v[i] + c2 * x * x;
    m[i] = mi;
    v[i] = vi;
    w[i] -= (lrT * mi) / (Math.sqrt(vi) + eps);
  }
}

/**
 * Owns the parameters' values from construction on: it keeps host copies (in shared memory, so that
 * gradient replicas in other threads read the current weights without a copy) and, when it was given
 * tfjs variables, writes each update back into them. Change the variables only through setState /
 * the constructor. The ONNX engine gives no variables: its graphs read the host copies directly.
 */
export class Adam {
  learningRate: number;
  step = 0;
  /** Global gradient norm of the last update (before clipping). */
  lastGradNorm = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly clipNorm: number;
  private readonly w: Float32Array[];
  private m: Float32Array[];
  private v: Float32Array[];

  private readonly params: tf.Variable[];

  constructor(params: tf.Variable[] | readonly Float32Array[], opts: AdamOptions) {
    this.params = params.filter((p): p is tf.Variable => p instanceof tf.Variable);
    this.learningRate = opts.learningRate;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-7;
    this.clipNorm = opts.clipNorm;
    this.w = params.map((p) => {
      const values = p instanceof Float32Array ? p : (p.dataSync() as Float32Array);
      const copy = new Float32Array(
        opts.sharedMemory === false ? new ArrayBuffer(values.length * 4) : new SharedArrayBuffer(values.length * 4),
      );
      copy.set(values);
      return copy;
    });
    this.m = this.w.map((a) => new Float32Array(a.length));
    this.v = this.w.map((a) => new Float32Array(a.length));
  }

  /** The current weights, params order, in SharedArrayBuffers unless sharedMemory is false (read-only for others). */
  get hostWeights(): readonly Float32Array[] {
    return this.w;
  }

  /** One update; grads in params order (the caller disposes them). */
  apply(grads: tf.Tensor[]): void {
    // Reads the gradients in place (no copies); the variables are written after the views are gone.
    withFloatViews(grads, [], (g) => this.update(g));
    this.writeBack();
  }

  /** One update from gradients already on the host, params order. */
  applyHost(g: readonly Float32Array[]): void {
    this.update(g);
    this.writeBack();
  }

  private writeBack(): void {
    this.params.forEach((p, k) => tf.tidy(() => p.assign(tensorFromHost(this.w[k], p.shape))));
  }

  /** Adam on the host copies only. */
  private update(g: readonly Float32Array[]): void {
    let sq = 0;
    for (const a of g) for (let i = 0; i < a.length; i++) sq += a[i] * a[i];
    const norm = Math.sqrt(sq);
    this.lastGradNorm = norm;
    const scale = this.clipNorm > 0 && norm > this.clipNorm ? this.clipNorm / norm : 1;
    this.step++;
    const t = this.step;
    const lrT = (this.learningRate * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
    for (let k = 0; k < g.length; k++)
      adamKernel({ g: g[k], m: this.m[k], v: this.v[k], w: this.w[k] }, scale, lrT, this.beta1, this.beta2, this.epsilon);
  }

  /** The current weights (the host copies themselves). */
  currentWeights(): readonly Float32Array[] {
    return this.w;
  }

  getState(): AdamState {
    return { step: this.step, m: this.m.map((a) => a.slice()), v: this.v.map((a) => a.slice()) };
  }

  setState(state: AdamState): void {
    this.step = state.step;
    this.m = state.m.map((a) => a.slice());
    this.v = state.v.map((a) => a.slice());
  }

  dispose(): void {
    // Host arrays only: nothing on the backend.
  }
}
