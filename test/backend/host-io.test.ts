// In-place reads and writes of tensor values (src/backend/host-io.ts): the same values as dataSync()
// on WASM (heap views) and on cpu (fresh arrays), outputs that own their memory, and no leaks.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { readInto, tensorFromHost, withFloatViews } from '../../src/backend/host-io.js';

describe.each(['wasm', 'cpu'] as const)('host-io on %s', (backend) => {
  it('reads inputs and fills outputs in place, leaking nothing', async () => {
    await initBackend(backend);
    const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const before = tf.memory().numTensors;
    const [sum, twice] = withFloatViews([a, a.add(1)], [[3], [2, 3]], ([x, y], [s, t]) => {
      for (let j = 0; j < 3; j++) s[j] = x[j] + x[3 + j] + y[j];
      for (let i = 0; i < 6; i++) t[i] = 2 * x[i];
    });
    // a.add(1) above is a caller's temporary: the two outputs and it are the new tensors.
    expect(tf.memory().numTensors).toBe(before + 3);
    expect(Array.from(sum.dataSync())).toEqual([1 + 4 + 2, 2 + 5 + 3, 3 + 6 + 4]);
    expect(twice.shape).toEqual([2, 3]);
    expect(Array.from(twice.dataSync())).toEqual([2, 4, 6, 8, 10, 12]);
    const target = new Float32Array(6);
    readInto(twice, target);
    expect(Array.from(target)).toEqual([2, 4, 6, 8, 10, 12]);
    tf.dispose([a, sum, twice]);
  });

  it('tensorFromHost copies: later changes to the array do not reach the tensor', async () => {
    await initBackend(backend);
    const values = new Float32Array([1, 2, 3]);
    const t = tensorFromHost(values, [3]);
    values[0] = 99;
    expect(Array.from(t.dataSync())).toEqual([1, 2, 3]);
    t.dispose();
  });

  it('refuses non-float inputs', async () => {
    await initBackend(backend);
    const ids = tf.tensor1d([1, 2], 'int32');
    expect(() => withFloatViews([ids], [], () => undefined)).toThrow(/int32/);
    ids.dispose();
  });
});
