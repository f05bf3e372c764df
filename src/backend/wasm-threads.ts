// Multi-threaded WASM under Node. tfjs-backend-wasm ships a pthreads + SIMD build (XNNPACK spreads
// every convolution and matmul over a thread pool) but switches it off under Node, because its
// emscripten workers start from a browser `blob:` URL, which Node's worker_threads refuse
// (ERR_WORKER_PATH, a known tfjs limitation). Three small shims make the stock build run:
//   1. the worker bootstrap tfjs inlines is written once to a real .cjs file, and `blob:` URLs of
//      JavaScript blobs resolve to that file;
//   2. inside each worker, the main script blob resolves to the package's own
//      `wasm-out/tfjs-backend-wasm-threaded-simd.js` (the same emscripten factory tfjs inlines);
//   3. emscripten sizes XNNPACK's pool from `os.cpus().length / 2` (it assumes 2 hyper-threads per
//      core) and ignores larger requests, so the core count it sees is scaled while it starts.
// Pool threads are unref'd: idle pthreads never keep a finished command alive.
// Only src/backend/index.ts imports this file.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../io/atomic.js';

const require = createRequire(import.meta.url);

interface WasmModule {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

/** The worker bootstrap as a file, named by a hash of its contents (shared by every capgen process). */
async function writeWorkerFile(): Promise<string> {
  const wasmOut = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js'));
  const factoryFile = path.join(wasmOut, 'tfjs-backend-wasm-threaded-simd.js');
  const { wasmWorkerContents } = require(path.join(wasmOut, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  // tfjs escapes the newlines inside the bootstrap's string literals the same way before making its blob.
  const source = `URL.createObjectURL = () => ${JSON.stringify(factoryFile)};\n${wasmWorkerContents.replace(/\n/g, '\\n')}`;
  const digest = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), `capgen-${os.userInfo().uid}`);
  const file = path.join(dir, `wasm-pthread-${digest}.cjs`);
  if (!existsSync(file)) await writeFileAtomic(file, source);
  return file;
}

/** A Worker class whose ref() is a no-op, installed where emscripten looks for `Worker`. */
function installUnrefWorker(): void {
  type WorkerClass = new (...args: never[]) => { ref(): unknown; unref(): unknown };
  let wrapped: unknown;
  Object.defineProperty(globalThis, 'Worker', {
    configurable: true,
    get: () => wrapped,
    set: (base: WorkerClass) => {
      wrapped = class extends base {
        constructor(...args: never[]) {
          super(...args);
          this.unref();
        }
        override ref(): this {
          return this;
        }
      };
    },
  });
}

/**
 * Ask tfjs for its threaded WASM build with `threads` XNNPACK threads, before `tf.setBackend('wasm')`.
 * `restore` undoes the start-up shim on os.cpus (call it whether or not the backend started);
 * `threadsCount` is what tfjs reports once it has.
 */
export async function prepareWasmThreads(wasm: WasmModule, threads: number): Promise<{ restore(): void; threadsCount(): number }> {
  const workerFile = await writeWorkerFile();
  const createObjectURL = URL.createObjectURL;
  URL.createObjectURL = (blob: Blob) => (blob.type === 'application/javascript' ? workerFile : createObjectURL(blob));
  installUnrefWorker();
  const cpus = os.cpus;
  const realCores = cpus().length;
  os.cpus = () => Array.from({ length: 2 * threads }, (_, i) => cpus()[i % realCores]);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  return {
    restore: () => {
      os.cpus = cpus;
    },
    threadsCount: () => wasm.getThreadsCount(),
  };
}
