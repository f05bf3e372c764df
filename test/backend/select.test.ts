// Backend selection: auto falls back to WASM here (no native binding can install), and an explicit
// request for a missing native backend is an error that says what to install.
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { describeBackend, initBackend } from '../../src/backend/index.js';
import { isCapgenError } from '../../src/errors.js';

function nativeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(nativeInstalled())('initBackend without native bindings', () => {
  it('auto skips the native backends, says why, and runs on WASM', async () => {
    const info = await initBackend('auto');
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.skipped.join('\n')).toMatch(/tfjs-node-gpu/);
    expect(info.skipped.join('\n')).toMatch(/tfjs-node\b/);
    // vitest.config.ts sets CAPGEN_THREADS=1 for the suite.
    expect(describeBackend(info)).toMatch(/^backend: WASM .*1 thread \(auto\)$/);
  });

  it('an explicit native backend that is not installed is a BACKEND error naming the package', async () => {
    for (const name of ['gpu', 'node'] as const) {
      const err = await initBackend(name).catch((e: unknown) => e);
      expect(isCapgenError(err) && err.code).toBe('BACKEND');
      expect((err as Error).message).toMatch(name === 'gpu' ? /tfjs-node-gpu/ : /tfjs-node/);
      expect((err as { hint?: string }).hint).toMatch(/npm install @tensorflow\/tfjs-node/);
    }
  });

  it('a WASM failure that leaves auto on pure JS is said in the backend line; missing native packages are not', () => {
    const line = describeBackend({
      requested: 'auto',
      name: 'cpu',
      tfBackend: 'cpu',
      threads: 1,
      skipped: ['@tensorflow/tfjs-node: not installed', 'wasm: out of memory'],
    });
    expect(line).toBe('backend: pure-JS cpu, 1 thread (auto) because wasm: out of memory');
    expect(
      describeBackend({
        requested: 'auto',
        name: 'wasm',
        tfBackend: 'wasm',
        threads: 2,
        skipped: ['@tensorflow/tfjs-node: not installed'],
      }),
    ).toBe('backend: WASM (XNNPACK, SIMD), 2 threads (auto)');
  });

  it('cpu is available on request', async () => {
    const info = await initBackend('cpu');
    expect(info.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });
});
