// The LSTM recurrence over a whole (teacher-forced) sequence as one differentiable op: matmuls on
// the backend (XNNPACK on WASM), gate arithmetic in plain JS. On WASM this replaces ~30 small
// backend ops per time step (split, slices, broadcasts, identity copies), which cost ~10x the math.
// Keras gate order i, f, c, o; activations sigmoid (gates) and tanh (cell, output).
import * as tf from '@tensorflow/tfjs';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Read outside tf.tidy: tidy walks a returned typed array element by element (very slow). */
function readAndDispose(t: tf.Tensor): Float32Array {
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return data;
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
    const X = x.dataSync() as Float32Array;
    // Saved activations for the backward pass, each [T*B, h] time-major.
    const gi = new Float32Array(rows * H);
    const gf = new Float32Array(rows * H);
    const gg = new Float32Array(rows * H);
    const go = new Float32Array(rows * H);
    const cs = new Float32Array(rows * H);
    const tcs = new Float32Array(rows * H);
    const hs = new Float32Array(rows * H);
    for (let t = 0; t < timeSteps; t++) {
      let rec: Float32Array | undefined;
      if (t > 0) {
        rec = readAndDispose(tf.tidy(() => tf.matMul(tf.tensor2d(hs.subarray((t - 1) * B * H, t * B * H), [B, H]), u as tf.Tensor2D)));
      }
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
          const i = sigmoid(zi);
          const f = sigmoid(zf);
          const g = Math.tanh(zc);
          const og = sigmoid(zo);
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
    const value = tf.tensor2d(hs, [rows, H]);
    const gradFunc = (dy: tf.Tensor) => {
      const dY = dy.dataSync() as Float32Array;
      const dZ = new Float32Array(rows * h4);
      // Transposed once here, not by every step's matmul.
      const uT = tf.transpose(u as tf.Tensor2D);
      const dhRec = new Float32Array(B * H); // gradient reaching h_t from step t+1
      const dcNext = new Float32Array(B * H);
      for (let t = timeSteps - 1; t >= 0; t--) {
        for (let b = 0; b < B; b++) {
          const o = (t * B + b) * H;
          const prev = o - B * H;
          const zRow = (t * B + b) * h4;
          const s = b * H;
          for (let j = 0; j < H; j++) {
            const dh = dY[o + j] + dhRec[s + j];
            const i = gi[o + j];
            const f = gf[o + j];
            const g = gg[o + j];
            const og = go[o + j];
            const tc = tcs[o + j];
            const dc = dh * og * (1 - tc * tc) + dcNext[s + j];
            const cPrev = t > 0 ? cs[prev + j] : 0;
            dZ[zRow + j] = dc * g * i * (1 - i);
            dZ[zRow + H + j] = dc * cPrev * f * (1 - f);
            dZ[zRow + 2 * H + j] = dc * i * (1 - g * g);
            dZ[zRow + 3 * H + j] = dh * tc * og * (1 - og);
            dcNext[s + j] = dc * f;
          }
        }
        if (t > 0) {
          dhRec.set(readAndDispose(tf.tidy(() => tf.matMul(tf.tensor2d(dZ.subarray(t * B * h4, (t + 1) * B * h4), [B, h4]), uT))));
        }
      }
      // dU = sum_t h_{t-1}^T dz_t: h_{-1} = 0, so rows B.. of dZ pair with hs rows 0..
      const hPrevT = new Float32Array(H * (rows - B));
      for (let r = 0; r < rows - B; r++) for (let j = 0; j < H; j++) hPrevT[j * (rows - B) + r] = hs[r * H + j];
      const dX = tf.tensor2d(dZ, [rows, h4]);
      const dU =
        rows > B
          ? tf.tidy(() => tf.matMul(tf.tensor2d(hPrevT, [H, rows - B]), tf.tensor2d(dZ.subarray(B * h4), [rows - B, h4])))
          : tf.zerosLike(u);
      uT.dispose();
      return [dX, dU];
    };
    return { value, gradFunc };
  }) as never);
  return op(xProj, recurrent) as tf.Tensor2D;
}
