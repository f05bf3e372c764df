// The op vocabulary the decoders are written in. A decoder (merge-lstm.ts, attention-lstm.ts,
// transformer.ts) is code over `Ops<T>`, so the same definition runs on two engines:
// - src/engine/tfjs-ops.ts: T = tf.Tensor, executed eagerly; tfjs' autodiff gives the gradients
//   (the reference, and the native tfjs-node / tfjs-node-gpu path);
// - src/engine/onnx/graph-ops.ts: T = a symbolic value; the calls record an ONNX graph, and that
//   engine's own reverse-mode rules add the backward pass (ONNX Runtime on CPUs).
// Shapes are static except where a dimension is -1 (graphs only: e.g. the number of scored words).
// Broadcasting follows numpy: shapes are aligned from the right, a dimension of 1 stretches.

export type Shape = readonly number[];

export interface Ops<T> {
  /** Which engine this is ('tfjs' runs eagerly, 'graph' records). */
  readonly kind: 'tfjs' | 'graph';
  shape(x: T): Shape;
  /** A float32 constant (not trained). */
  constant(values: Float32Array, shape: Shape): T;

  /** a [..., M, K] x b [..., K, N] (b may be 2-D and shared over a's leading dimensions). */
  matmul(a: T, b: T, opts?: { transposeB?: boolean }): T;
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  /** x * k for a number k. */
  scale(x: T, k: number): T;

  sigmoid(x: T): T;
  tanh(x: T): T;
  relu(x: T): T;
  exp(x: T): T;
  sqrt(x: T): T;
  reciprocal(x: T): T;
  /** Over the last axis. */
  softmax(x: T): T;
  /** Over the last axis. */
  logSoftmax(x: T): T;

  sum(x: T, axes: number[], keepDims?: boolean): T;
  mean(x: T, axes: number[], keepDims?: boolean): T;

  /** At most one -1 (inferred). */
  reshape(x: T, shape: Shape): T;
  transpose(x: T, perm: number[]): T;
  concat(xs: T[], axis: number): T;
  /** Pieces of the given sizes along `axis` (static). */
  split(x: T, sizes: number[], axis: number): T[];
  /** Rows of x (axis 0) by int ids [M] -> [M, ...x.shape[1:]]. */
  gather(x: T, ids: T): T;
  /**
   * Rows of `table` by ids, times `kernel`: gather(table, ids) x kernel ([M, out]). An op of its own so
   * that a graph whose weights are constants (decoding) can look the rows up in table x kernel
   * ([V, out], folded once when the graph loads) instead of multiplying at every step.
   */
  gatherMatmul(table: T, ids: T, kernel: T): T;

  /**
   * The LSTM recurrence with zero initial state: xProj [T*B, 4h] time-major input projections (bias
   * included), recurrent [h, 4h] (gates i, f, c, o) -> hidden states [T*B, h], time-major. An op of
   * its own so that an engine can run it fused (the WASM fast path in src/model/lstm-sequence.ts).
   */
  lstmSequence(xProj: T, recurrent: T, timeSteps: number): T;
}

/** numpy broadcasting of two static shapes (-1 = only known at run time); for the graph recorders. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === 1) out.push(y);
    else if (y === 1 || y === x || y === -1) out.push(x);
    else if (x === -1) out.push(y);
    else throw new Error(`shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
  }
  return out;
}

/** Tensors of one teacher-forced batch, as a decoder sees them (time-major: row t*B+b). */
export interface BatchTensors<T> {
  /** [B, featureSize] pooled vectors, or [B, regions, channels] spatial features. */
  features: T;
  /** [T*B] int: start, w1..wn, then padding (0). */
  inputs: T;
  /** [N] int: flat indices t*B+b of the positions that have a target. */
  rows: T;
  /** [N] int: the caption b of each scored position. */
  rowCaption: T;
  /** Inverted-dropout masks by site name (training only; see DecoderSpec.dropoutSites). */
  masks: Record<string, T>;
  batchSize: number;
  timeSteps: number;
}

/** x [.., in] W [in, out] + b [out], then an activation. */
export function dense<T>(ops: Ops<T>, x: T, w: T, b: T | undefined, activation?: 'relu' | 'tanh' | 'sigmoid'): T {
  let y = ops.matmul(x, w);
  if (b !== undefined) y = ops.add(y, b);
  if (activation === 'relu') return ops.relu(y);
  if (activation === 'tanh') return ops.tanh(y);
  if (activation === 'sigmoid') return ops.sigmoid(y);
  return y;
}

/** One LSTM cell: z [B, 4h] pre-activations (gates i, f, c, o), previous c [B, h] (none = zeros) -> new h and c. */
export function lstmCell<T>(ops: Ops<T>, z: T, cPrev: T | undefined, hiddenSize: number): { h: T; c: T } {
  const [zi, zf, zc, zo] = ops.split(z, [hiddenSize, hiddenSize, hiddenSize, hiddenSize], 1);
  const candidate = ops.mul(ops.sigmoid(zi), ops.tanh(zc));
  const c = cPrev === undefined ? candidate : ops.add(ops.mul(ops.sigmoid(zf), cPrev), candidate);
  return { h: ops.mul(ops.sigmoid(zo), ops.tanh(c)), c };
}

/** The recurrence of Ops.lstmSequence written with plain ops, one cell per time step. */
export function unrolledLstm<T>(ops: Ops<T>, xProj: T, recurrent: T, timeSteps: number): T {
  const hiddenSize = ops.shape(recurrent)[0];
  const steps = ops.split(xProj, new Array<number>(timeSteps).fill(ops.shape(xProj)[0] / timeSteps), 0);
  const hs: T[] = [];
  let h: T | undefined;
  let c: T | undefined;
  for (const x of steps) {
    const z = h === undefined ? x : ops.add(x, ops.matmul(h, recurrent));
    ({ h, c } = lstmCell(ops, z, c, hiddenSize));
    hs.push(h);
  }
  return hs.length === 1 ? hs[0] : ops.concat(hs, 0);
}

/** Layer normalisation over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta. */
export function layerNorm<T>(ops: Ops<T>, x: T, gamma: T, beta: T, epsilon = 1e-5): T {
  const last = ops.shape(x).length - 1;
  const centred = ops.sub(x, ops.mean(x, [last], true));
  const variance = ops.mean(ops.mul(centred, centred), [last], true);
  const inv = ops.reciprocal(ops.sqrt(ops.add(variance, ops.constant(Float32Array.of(epsilon), [1]))));
  return ops.add(ops.mul(ops.mul(centred, inv), gamma), beta);
}
