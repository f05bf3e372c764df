// The WASM/cpu kernel fixes must give the unpatched (or an independent) result, only faster.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerKernelFixes, segmentSumInto } from '../../src/backend/kernel-fixes.js';

function seeded(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Plain-array reference: out[ids[i]] += x[i]. */
function referenceSegmentSum(x: Float32Array, ids: number[], width: number, numSegments: number): Float64Array {
  const out = new Float64Array(numSegments * width);
  ids.forEach((id, i) => {
    if (id < 0 || id >= numSegments) return;
    for (let j = 0; j < width; j++) out[id * width + j] += x[i * width + j];
  });
  return out;
}

const x3 = seeded(5 * 4 * 3, 7);
/** Gathers and sums on which the fixes take their fast path, and some on which they must not. */
const gatherAndSumCases: Record<string, () => tf.Tensor> = {
  'gather rows': () => tf.gather(tf.tensor2d(x3, [20, 3]), tf.tensor1d([3, 0, 19, 3], 'int32')),
  'gather 3d by 2d ids': () =>
    tf.gather(
      tf.tensor3d(x3, [5, 4, 3]),
      tf.tensor2d(
        [
          [4, 0],
          [2, 2],
        ],
        [2, 2],
        'int32',
      ),
    ),
  'gather int32 rows': () => tf.gather(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), tf.tensor1d([2, 0], 'int32')).toFloat(),
  'gather axis 1 (stock)': () => tf.gather(tf.tensor3d(x3, [5, 4, 3]), tf.tensor1d([1, 3], 'int32'), 1),
  'sum axis 0': () => tf.sum(tf.tensor2d(x3, [20, 3]), 0),
  'sum axes 0,1 of 3d': () => tf.sum(tf.tensor3d(x3, [5, 4, 3]), [0, 1]),
  'sum axis -2 keepDims': () => tf.sum(tf.tensor2d(x3, [20, 3]), -2, true),
  'sum axis 1 (stock)': () => tf.sum(tf.tensor2d(x3, [20, 3]), 1),
  'sum all (stock)': () => tf.sum(tf.tensor3d(x3, [5, 4, 3])),
};

describe('WASM kernel fixes', () => {
  const a = seeded(3 * 7 * 5, 1);
  const b = seeded(3 * 5 * 4, 2);
  const unpatched: Record<string, Float32Array> = {};

  beforeAll(async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    // Results of the stock kernels, before the fixes are registered.
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const A = ta ? tf.tensor3d(a, [3, 5, 7]) : tf.tensor3d(a, [3, 7, 5]);
      const B = tb ? tf.tensor3d(b, [3, 4, 5]) : tf.tensor3d(b, [3, 5, 4]);
      unpatched[`${ta}${tb}`] = tf.matMul(A, B, ta, tb).dataSync() as Float32Array;
      tf.dispose([A, B]);
    }
    const E = tf.ones([4, 3]);
    expect(() => tf.grad((e: tf.Tensor) => tf.gather(e, tf.tensor1d([1, 2], 'int32')).sum())(E)).toThrow(/UnsortedSegmentSum/);
    E.dispose();
    for (const [name, f] of Object.entries(gatherAndSumCases)) unpatched[name] = tf.tidy(() => f().dataSync() as Float32Array);
    registerKernelFixes('wasm');
  });

  it('GatherV2 and Sum give the stock kernels results (fast paths and fallbacks)', () => {
    for (const [name, f] of Object.entries(gatherAndSumCases)) {
      const before = tf.memory().numTensors;
      const got = tf.tidy(() => f().dataSync() as Float32Array);
      expect(maxAbsDiff(got, unpatched[name]), name).toBeLessThan(1e-5);
      expect(tf.memory().numTensors).toBe(before);
    }
    // Shapes as well as values.
    expect(tf.tidy(() => tf.sum(tf.ones([2, 3, 4]), [0, 1], true).shape)).toEqual([1, 1, 4]);
    expect(
      tf.tidy(
        () =>
          tf.gather(
            tf.ones([5, 2, 3]),
            tf.tensor2d(
              [
                [0, 4],
                [1, 1],
              ],
              [2, 2],
              'int32',
            ),
          ).shape,
      ),
    ).toEqual([2, 2, 2, 3]);
  });

  it('BatchMatMul with transposed operands equals the stock kernel', () => {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const before = tf.memory().numTensors;
      const A = ta ? tf.tensor3d(a, [3, 5, 7]) : tf.tensor3d(a, [3, 7, 5]);
      const B = tb ? tf.tensor3d(b, [3, 4, 5]) : tf.tensor3d(b, [3, 5, 4]);
      const got = tf.matMul(A, B, ta, tb);
      expect(got.shape).toEqual([3, 7, 4]);
      expect(maxAbsDiff(got.dataSync(), unpatched[`${ta}${tb}`])).toBeLessThan(1e-6);
      tf.dispose([A, B, got]);
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('UnsortedSegmentSum matches a plain-array reference, ids out of range dropped', () => {
    const x = seeded(6 * 4, 3);
    const ids = [0, 2, 2, 5, -1, 9];
    const got = tf.tidy(() => tf.unsortedSegmentSum(tf.tensor2d(x, [6, 4]), tf.tensor1d(ids, 'int32'), 6).dataSync());
    expect(maxAbsDiff(got, referenceSegmentSum(x, ids, 4, 6))).toBeLessThan(1e-6);
  });

  it('the Embedding gradient (gather) is the scatter-add of the upstream gradient', () => {
    const vocab = 11;
    const width = 3;
    const ids = [
      [1, 4, 4],
      [0, 10, 1],
    ];
    const upstream = seeded(2 * 3 * width, 4);
    const grad = tf.tidy(() => {
      const E = tf.tensor2d(seeded(vocab * width, 5), [vocab, width]);
      const W = tf.tensor3d(upstream, [2, 3, width]);
      const idT = tf.tensor2d(ids, [2, 3], 'int32');
      return tf
        .grad((e: tf.Tensor) => tf.gather(e, idT).mul(W).sum())(E)
        .dataSync();
    });
    expect(maxAbsDiff(grad, referenceSegmentSum(upstream, ids.flat(), width, vocab))).toBeLessThan(1e-6);
  });
});

describe('segmentSumInto', () => {
  it('adds rows into their segments and ignores ids outside [0, n)', () => {
    const out = new Float32Array(4);
    segmentSumInto(out, [1, 2, 3, 4, 5], [1, 1, 3, 7, -2], 4);
    expect(Array.from(out)).toEqual([0, 3, 0, 3]);
  });
});
