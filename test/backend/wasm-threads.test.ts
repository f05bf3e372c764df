// The threaded WASM build under Node (src/backend/wasm-threads.ts): it must really start the XNNPACK
// pool, compute the same numbers as one thread, and let a finished process exit on its own.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { threadsWanted } from '../../src/backend/index.js';
import { isCapgenError } from '../../src/errors.js';

const root = path.resolve(import.meta.dirname, '../..');

/** A fresh process (the pool is per process) on dist/: thread count and a conv + matmul checksum. */
function runWith(threads: number): { threads: number; values: number[] } {
  const script = `
    import * as tf from '@tensorflow/tfjs';
    import { initBackend } from './dist/backend/index.js';
    const info = await initBackend('wasm', { threads: ${threads} });
    const x = tf.randomUniform([2, 33, 33, 8], -1, 1, 'float32', 7);
    const k = tf.randomUniform([3, 3, 8, 16], -1, 1, 'float32', 8);
    const y = tf.conv2d(x, k, 2, 'same').reshape([2 * 17 * 17, 16]);
    const z = tf.matMul(y, tf.randomUniform([16, 300], -1, 1, 'float32', 9));
    console.log(JSON.stringify({ threads: info.threads, values: Array.from(z.dataSync().slice(0, 64)) }));
  `;
  // No process.exit in the script: the process must end by itself (idle pool threads are unref'd).
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  if (out.status !== 0) throw new Error(`exit ${out.status} ${out.signal ?? ''}: ${out.stderr}`);
  return JSON.parse(out.stdout.trim().split('\n').pop() as string);
}

describe('threaded WASM', () => {
  it('starts 2 XNNPACK threads, matches 1 thread, and exits without help', () => {
    const one = runWith(1);
    const two = runWith(2);
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect(two.values.length).toBe(64);
    for (let i = 0; i < 64; i++) expect(two.values[i]).toBeCloseTo(one.values[i], 5);
  });

  it('CAPGEN_THREADS picks the count; anything but 1..64 is a usage error', () => {
    expect(threadsWanted({ CAPGEN_THREADS: '3' })).toBe(3);
    expect(threadsWanted({})).toBeGreaterThanOrEqual(1);
    for (const bad of ['0', '-2', '1.5', 'many', '65']) {
      const err = (() => {
        try {
          return threadsWanted({ CAPGEN_THREADS: bad });
        } catch (e) {
          return e;
        }
      })();
      expect(isCapgenError(err) && err.code).toBe('USAGE');
    }
  });
});
