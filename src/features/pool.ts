// A pool of worker threads that run the tfjs encoder in parallel, one single-threaded WASM instance
// each (the alternative to one instance spreading each batch over its XNNPACK threads).
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BackendChoice } from '../backend/index.js';
import type { EncoderIdentity } from '../run/formats.js';
import { workerScript } from '../util/worker-script.js';
import { packPixels } from './image-load.js';

/**
 * Workers by default: 1 on every backend. Native backends (tensorflow) use every core themselves. For
 * WASM, bench/features.mjs measured a pool of 2 on a 2-core machine as slower than one thread
 * (each worker pays its own WASM start and model load, and the second core is already busy with
 * sharp's decoding and other processes); see bench/README.md. `--workers N` overrides.
 */
export function defaultWorkers(_backend: BackendChoice | string): number {
  return Math.max(1, Math.min(DEFAULT_WORKERS, os.cpus().length));
}
const DEFAULT_WORKERS = 1;

export interface EmbedPool {
  /** Decoded images ([h, w, 3] uint8 each) -> feature rows, flattened [n * dim]. */
  embed(pixels: Uint8Array[], size: [number, number]): Promise<Float32Array>;
  close(): Promise<void>;
}

export async function createEmbedPool(opts: {
  workers: number;
  identity: EncoderIdentity;
  backend: BackendChoice;
  weights?: string;
}): Promise<EmbedPool> {
  const file = workerScript(import.meta.url, 'embed-worker.js');
  const pending = new Map<number, { resolve(rows: Float32Array): void; reject(e: Error): void }>();
  const idle: Worker[] = [];
  const queue: (() => void)[] = [];
  const workers = await Promise.all(
    Array.from(
      { length: opts.workers },
      () =>
        new Promise<Worker>((resolve, reject) => {
          const w = new Worker(file, { workerData: { identity: opts.identity, backend: opts.backend, weights: opts.weights } });
          w.on('error', reject);
          w.on('message', (m: { type: string; id?: number; rows?: Float32Array; error?: string; message?: string }) => {
            if (m.type === 'ready') resolve(w);
            else if (m.type === 'error') reject(new Error(`embed worker: ${m.message}`));
            else if (m.type === 'result') {
              const p = pending.get(m.id as number);
              pending.delete(m.id as number);
              idle.push(w);
              queue.shift()?.();
              if (m.error) p?.reject(new Error(`embed worker: ${m.error}`));
              else p?.resolve(m.rows as Float32Array);
            }
          });
        }),
    ),
  );
  idle.push(...workers);
  let nextId = 0;
  return {
    async embed(pixels, size) {
      while (!idle.length) await new Promise<void>((resolve) => queue.push(resolve));
      const w = idle.pop() as Worker;
      const packed = packPixels(pixels, size, (n) => new Uint8Array(n));
      const id = nextId++;
      return new Promise<Float32Array>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        w.postMessage({ id, pixels: packed, count: pixels.length, size }, [packed.buffer as ArrayBuffer]);
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
