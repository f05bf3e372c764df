// Seeded weight initialisers in plain JS, matching Keras' defaults: glorot_uniform kernels,
// orthogonal recurrent kernels (QR by Gram-Schmidt in JS, where tfjs' QR is very slow on the
// cpu backend) and uniform(-0.05, 0.05) embeddings. Same seed, same weights, on any backend.

// The generator and the normal sampler are util/random.ts's.
import { gaussian } from '../util/random.js';

export function uniform(size: number, limit: number, rand: () => number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (rand() * 2 - 1) * limit;
  return out;
}

/** Keras glorot_uniform for a [fanIn, fanOut] kernel. */
export function glorotUniform(fanIn: number, fanOut: number, rand: () => number): Float32Array {
  return uniform(fanIn * fanOut, Math.sqrt(6 / (fanIn + fanOut)), rand);
}

/**
 * Keras Orthogonal (gain 1) for a [rows, cols] kernel, row-major: a normal matrix, QR-factorised,
 * Q's columns sign-corrected by diag(R). With rows < cols (an LSTM's [h, 4h]) the rows come out
 * orthonormal, as Keras does by factorising the transpose.
 */
export function orthogonal(rows: number, cols: number, rand: () => number): Float32Array {
  const normal = () => gaussian(rand);
  // Work on the tall orientation: n vectors of length m (m >= n), orthonormalised in order.
  const tall = rows >= cols;
  const m = tall ? rows : cols;
  const n = tall ? cols : rows;
  const vecs: Float64Array[] = [];
  for (let j = 0; j < n; j++) {
    const v = new Float64Array(m);
    for (let i = 0; i < m; i++) v[i] = normal();
    vecs.push(v);
  }
  for (let j = 0; j < n; j++) {
    const v = vecs[j];
    for (let k = 0; k < j; k++) {
      const q = vecs[k];
      let dot = 0;
      for (let i = 0; i < m; i++) dot += q[i] * v[i];
      for (let i = 0; i < m; i++) v[i] -= dot * q[i];
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    // Gram-Schmidt's R has a positive diagonal (the norm), which is what the sign fix gives.
    for (let i = 0; i < m; i++) v[i] /= norm;
  }
  const out = new Float32Array(rows * cols);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < m; i++) {
      if (tall) out[i * cols + j] = vecs[j][i];
      else out[j * cols + i] = vecs[j][i];
    }
  }
  return out;
}
