// The LSTM recurrence over a whole (teacher-forced) sequence as one differentiable op: matmuls on
// the backend (XNNPACK on WASM), gate arithmetic in plain JS. On WASM this replaces ~30 small
// backend ops per time step (split, slices, broadcasts, identity copies), which cost far more than the math.
// Keras gate order i, f, c, o; activations sigmoid (gates) and tanh (cell, output).
// The host arrays (inputs, saved activations, gradients) are reused from call to call: fresh
// multi-megabyte arrays every training step cost more in page faults than the gate math.
import * as tf from '@tensorflow/tfjs';
import { readInto, tensorFromHost, withFloatViews } from '../backend/host-io.js';
import { ScratchPool } from '../util/scratch.js';

/** Host arrays by role, valid from a forward pass to its backward pass. */
const scratch = new ScratchPool();
const buffer = (role: string, size: number) => scratch.get(role, size);
/** Forward passes so far: a backward pass must follow its own forward pass (the scratch holds its activations). */
let generation = 0;

/** Activations of the forward pass, each [T*B, h] time-major, kept for the backward pass. */
interface Saved {
  gi: Float32Array;
  gf: Float32Array;
  gg: Float32Array;
  go: Float32Array;
  cs: Float32Array;
  tcs: Float32Array;
  hs: Float32Array;
}

// The two loops below are top-level functions that take everything as arguments: as closures over
// the op's variables they ran slower (V8 keeps context variables out of registers; bench/README.md).

/** Step t: gates from X [T*B, 4h] (+ rec [B, 4h], the recurrent part) into the saved activations. */
function forwardGates(X: Float32Array, rec: Float32Array | undefined, s: Saved, at: { t: number; B: number; H: number }): void {
  const { gi, gf, gg, go, cs, tcs, hs } = s;
  const { t, B, H } = at;
  const h4 = 4 * H;
  for (let b = 0; b < B; b++) {
    const zRow = (t * B + b) * h4;
    const rRow = b * h4;
    const o = (t * B + b) * H;
    const prev = o - B * H;
    for (let j = 0; j < H; j++) {
      const zi = X[zRow + j] + (rec ? rec[rRow + j] : 0);
      const zf = X[zRow + H + j] + (rec ? rec[rRow + H + j] : 0);
      const zc = X[zRow + 2 * H + j] + (rec ? rec[rRow + 2 * H + j] : 0);
      const zo = X[zRow + 3 * H + j] + (rec ? rec[rRow + 3 * H + j] : 0);
      const i = 1 / (1 + Math.exp(-zi));
      const f = 1 / (1 + Math.exp(-zf));
      const g = Math.tanh(zc);
      const og = 1 / (1 + Math.exp(-zo));
      const c = (t > 0 ? f * cs[prev + j] : 0) + i * g;
      const tc = Math.tanh(c);
      gi[o + j] = i;
      gf[o + j] = f;
      gg[o + j] = g;
      go[o + j] = og;
      cs[o + j] = c;
      tcs[o + j] = tc;
      hs[o + j] = og * tc;
    }
  }
}

/** Step t backwards: dZ rows of step t from dY, and the gradients flowing to step t-1 (dhRec, dcNext). */
function backwardGates(
  d: { dY: Float32Array; dhRec: Float32Array; dcNext: Float32Array; dZ: Float32Array },
  s: Saved,
  at: { t: number; B: number; H: number },
): void {
  const { dY, dhRec, dcNext, dZ } = d;
  const { gi, gf, gg, go, cs, tcs } = s;
  const { t, B, H } = at;
  const h4 = 4 * H;
  for (let b = 0; b < B; b++) {
    const o = (t * B + b) * H;
    const prev = o - B * H;
    const zRow = (t * B + b) * h4;
    const sRow = b * H;
    for (let j = 0; j < H; j++) {
      const dh = dY[o + j] + dhRec[sRow + j];
      const i = gi[o + j];
      const f = gf[o + j];
      const g = gg[o + j];
      const og = go[o + j];
      const tc = tcs[o + j];
      const dc = dh * og * (1 - tc * tc) + dcNext[sRow + j];
      const cPrev = t > 0 ? cs[prev + j] : 0;
      dZ[zRow + j] = dc * g * i * (1 - i);
      dZ[zRow + H + j] = dc * cPrev * f * (1 - f);
      dZ[zRow + 2 * H + j] = dc * i * (1 - g * g);
      dZ[zRow + 3 * H + j] = dh * tc * og * (1 - og);
      dcNext[sRow + j] = dc * f;
    }
  }
}

/** t [B, 4h] computed by `make`, read in place by `use`, then freed. */
function useAndDispose(make: () => tf.Tensor, use: (values: Float32Array) => void): void {
  const t = tf.tidy(make);
  withFloatViews([t], [], ([values]) => use(values));
  t.dispose();
}

/**
 * xProj [T*B, 4h] (time-major input projections, bias included), recurrent [h, 4h]
 * -> hidden states [T*B, h], time-major. Initial h and c are zero.
 */
export function lstmSequence(xProj: tf.Tensor2D, recurrent: tf.Tensor2D, timeSteps: number): tf.Tensor2D {
  const op = tf.customGrad(((x: tf.Tensor, u: tf.Tensor) => {
    const rows = x.shape[0] as number;
    const B = rows / timeSteps;
    const h4 = x.shape[1] as number;
    const H = h4 / 4;
    const X = buffer('x', rows * h4);
    readInto(x, X);
    // Saved activations for the backward pass, each [T*B, h] time-major.
    const gi = buffer('i', rows * H);
    const gf = buffer('f', rows * H);
    const gg = buffer('g', rows * H);
    const go = buffer('o', rows * H);
    const cs = buffer('c', rows * H);
    const tcs = buffer('tanhC', rows * H);
    const hs = buffer('h', rows * H);
    const myGeneration = ++generation;
    const saved: Saved = { gi, gf, gg, go, cs, tcs, hs };
    for (let t = 0; t < timeSteps; t++) {
      if (t === 0) forwardGates(X, undefined, saved, { t, B, H });
      else
        useAndDispose(
          () => tf.matMul(tensorFromHost(hs.subarray((t - 1) * B * H, t * B * H), [B, H]), u as tf.Tensor2D),
          (rec) => forwardGates(X, rec, saved, { t, B, H }),
        );
    }
    const value = tensorFromHost(hs, [rows, H]);
    const gradFunc = (dy: tf.Tensor) => {
      if (myGeneration !== generation) throw new Error('lstmSequence: a backward pass must directly follow its forward pass');
      const dY = buffer('dy', rows * H);
      readInto(dy, dY);
      const dZ = buffer('dz', rows * h4);
      // Transposed once here, not by every step's matmul.
      const uT = tf.transpose(u as tf.Tensor2D);
      const dhRec = buffer('dhRec', B * H).fill(0); // gradient reaching h_t from step t+1
      const dcNext = buffer('dcNext', B * H).fill(0);
      for (let t = timeSteps - 1; t >= 0; t--) {
        backwardGates({ dY, dhRec, dcNext, dZ }, saved, { t, B, H });
        if (t > 0)
          useAndDispose(
            () => tf.matMul(tensorFromHost(dZ.subarray(t * B * h4, (t + 1) * B * h4), [B, h4]), uT),
            (d) => dhRec.set(d),
          );
      }
      // dU = sum_t h_{t-1}^T dz_t: h_{-1} = 0, so rows B.. of dZ pair with hs rows 0..
      const dX = tensorFromHost(dZ, [rows, h4]);
      const dU =
        rows > B
          ? tf.tidy(() =>
              tf.matMul(
                tensorFromHost(hs.subarray(0, (rows - B) * H), [rows - B, H]),
                tensorFromHost(dZ.subarray(B * h4), [rows - B, h4]),
                true,
                false,
              ),
            )
          : tf.zerosLike(u);
      uT.dispose();
      return [dX, dU];
    };
    return { value, gradFunc };
  }) as never);
  return op(xProj, recurrent) as tf.Tensor2D;
}
