// The device Adam (native backends) against the host Adam: the same weights after steps with and
// without clipping, the same saved state, and no host reads during an update.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { mulberry32 as seededRandom } from '../../src/util/random.js';
import { Adam } from '../../src/train/adam.js';
import { DeviceAdam } from '../../src/train/adam-device.js';
import { maxAbsDiff } from '../engine/compare.js';
import { countReads } from '../helpers.js';

describe('DeviceAdam', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('updates as the host Adam does (1e-6), clipping included, with no host reads', () => {
    const rand = seededRandom(3);
    const shapes = [[4, 3], [7]];
    const initial = shapes.map((s) => Float32Array.from({ length: s.reduce((a, d) => a * d, 1) }, () => rand() - 0.5));
    const hostVars = initial.map((a, k) => tf.variable(tf.tensor(a, shapes[k])));
    const devVars = initial.map((a, k) => tf.variable(tf.tensor(a, shapes[k])));
    const opts = { learningRate: 0.05, clipNorm: 1 };
    const host = new Adam(hostVars, opts);
    const dev = new DeviceAdam(devVars, opts);
    let reads = 0;
    for (let step = 0; step < 6; step++) {
      // Large gradients on even steps (clipped), small ones on odd steps (not).
      const k = step % 2 ? 0.05 : 5;
      const grads = shapes.map((s) =>
        tf.tensor(
          Float32Array.from({ length: s.reduce((a, d) => a * d, 1) }, () => (rand() - 0.5) * k),
          s,
        ),
      );
      host.apply(grads);
      reads += countReads(() => dev.apply(grads)).reads;
      tf.dispose(grads);
    }
    expect(reads).toBe(0);
    const h = host.currentWeights();
    const d = dev.currentWeights();
    h.forEach((w, i) => {
      expect(maxAbsDiff(w, d[i])).toBeLessThan(1e-6);
      expect(maxAbsDiff(w, initial[i])).toBeGreaterThan(0.05); // it moved
    });
    const hs = host.getState();
    const ds = dev.getState();
    expect(ds.step).toBe(hs.step);
    hs.m.forEach((m, i) => expect(maxAbsDiff(m, ds.m[i])).toBeLessThan(1e-6));
    hs.v.forEach((v, i) => expect(maxAbsDiff(v, ds.v[i])).toBeLessThan(1e-6));
    const before = tf.memory().numTensors;
    dev.setState(hs);
    expect(tf.memory().numTensors).toBe(before);
    dev.dispose();
    tf.dispose([...hostVars, ...devVars]);
  });
});
