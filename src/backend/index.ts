// The one backend boundary: the only module that loads a native or WASM TensorFlow.js backend.
// Library code imports '@tensorflow/tfjs' and computes on whatever backend this module set up.
import os from 'node:os';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { CapgenError } from '../errors.js';
import { debug } from '../log.js';
import { registerKernelFixes } from './kernel-fixes.js';
import { prepareWasmThreads } from './wasm-threads.js';

import { BACKEND_CHOICES, type BackendChoice } from './choices.js';
export { BACKEND_CHOICES, type BackendChoice } from './choices.js';

export interface BackendInfo {
  /** What the user asked for. */
  requested: BackendChoice;
  /** What runs: gpu (tfjs-node-gpu), node (tfjs-node), wasm or cpu. */
  name: Exclude<BackendChoice, 'auto'>;
  /** tf.getBackend(): 'tensorflow', 'wasm' or 'cpu'. */
  tfBackend: string;
  threads: number;
  /** Why `auto` passed over faster backends (empty when none were skipped). */
  skipped: string[];
}

const require = createRequire(import.meta.url);
let current: BackendInfo | undefined;

const NATIVE_PACKAGES = { gpu: '@tensorflow/tfjs-node-gpu', node: '@tensorflow/tfjs-node' } as const;

function installHint(name: BackendChoice): string {
  switch (name) {
    case 'gpu':
      return 'install it with `npm install @tensorflow/tfjs-node-gpu@4.22.0` (needs CUDA 11.2 + cuDNN 8.1 and internet access for libtensorflow)';
    case 'node':
      return 'install it with `npm install @tensorflow/tfjs-node@4.22.0` (its install step downloads libtensorflow)';
    default:
      return 'run `npm ci` in the capgen folder';
  }
}

/** Loading a native binding registers the 'tensorflow' backend as a side effect. */
function tryNative(name: 'gpu' | 'node'): string | undefined {
  try {
    require(NATIVE_PACKAGES[name]);
    return undefined;
  } catch (e) {
    const first = String((e as Error).message ?? e).split('\n')[0];
    return `${NATIVE_PACKAGES[name]}: ${first}`;
  }
}

/** Load WASM with `threads` XNNPACK threads (1 = the single-threaded SIMD build); returns the count it got. */
async function setWasm(threads: number): Promise<number> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const threaded = threads > 1 ? await prepareWasmThreads(wasm, threads) : undefined;
  let started: boolean;
  try {
    started = await tf.setBackend('wasm');
  } finally {
    threaded?.restore();
  }
  if (!started)
    throw new Error(
      `the WASM backend failed to initialise${threaded ? ' (threaded build; CAPGEN_THREADS=1 uses the single-threaded one)' : ''}`,
    );
  return threaded ? threaded.threadsCount() : 1;
}

/** Compute threads (WASM's XNNPACK pool, ONNX Runtime's intra-op pool): $CAPGEN_THREADS, else one per core. */
export function threadsWanted(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.CAPGEN_THREADS;
  if (raw === undefined || raw === '') return os.availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new CapgenError('USAGE', `CAPGEN_THREADS must be a whole number from 1 to 64, got '${raw}'`);
  }
  return n;
}

/**
 * Choose, load and initialise the backend. `auto` takes tfjs-node-gpu, then tfjs-node, then WASM,
 * then the pure-JS cpu backend. Asking explicitly for one that cannot load is an error.
 */
export async function initBackend(requested: BackendChoice = 'auto', opts: { threads?: number } = {}): Promise<BackendInfo> {
  if (current && current.requested === requested) return current;
  if (!BACKEND_CHOICES.includes(requested)) {
    throw new CapgenError('USAGE', `unknown backend '${requested}'`, { hint: `choose one of ${BACKEND_CHOICES.join(', ')}` });
  }
  const skipped: string[] = [];
  let name: BackendInfo['name'] | undefined;
  let wasmThreads = 1;
  const order: Exclude<BackendChoice, 'auto'>[] = requested === 'auto' ? ['gpu', 'node', 'wasm', 'cpu'] : [requested];
  // Read before trying backends: a bad CAPGEN_THREADS is the user's error, never a reason for auto to skip WASM.
  const threadsForWasm = order.includes('wasm') ? (opts.threads ?? threadsWanted()) : 1;
  for (const candidate of order) {
    if (candidate === 'gpu' || candidate === 'node') {
      const failure = tryNative(candidate);
      if (failure === undefined && (await tf.setBackend('tensorflow'))) {
        name = candidate;
        break;
      }
      const why = failure ?? `${NATIVE_PACKAGES[candidate]} loaded but its backend did not initialise`;
      if (requested !== 'auto')
        throw new CapgenError('BACKEND', `backend '${candidate}' is not available: ${why}`, { hint: installHint(candidate) });
      skipped.push(why);
    } else if (candidate === 'wasm') {
      try {
        wasmThreads = await setWasm(threadsForWasm);
        name = 'wasm';
        break;
      } catch (e) {
        const why = `wasm: ${(e as Error).message}`;
        if (requested !== 'auto')
          throw new CapgenError('BACKEND', `backend 'wasm' is not available: ${why}`, { hint: installHint('wasm') });
        skipped.push(why);
      }
    } else {
      await import('@tensorflow/tfjs-backend-cpu');
      if (!(await tf.setBackend('cpu'))) throw new CapgenError('BACKEND', 'the cpu backend failed to initialise');
      name = 'cpu';
    }
  }
  if (!name) throw new CapgenError('BACKEND', 'no TensorFlow.js backend could be loaded', { hint: installHint('wasm') });
  await tf.ready();
  registerKernelFixes(tf.getBackend());
  // Native TensorFlow uses every core itself; WASM uses its XNNPACK pool; cpu runs on this thread.
  const threads = name === 'gpu' || name === 'node' ? os.cpus().length : name === 'wasm' ? wasmThreads : 1;
  for (const why of skipped) debug(`backend: auto skipped ${why}`);
  current = { requested, name, tfBackend: tf.getBackend(), threads, skipped };
  return current;
}

export function backendInfo(): BackendInfo | undefined {
  return current;
}

/** The line every computing command prints on stderr. */
export function describeBackend(info: BackendInfo): string {
  const label = { gpu: 'tfjs-node-gpu (CUDA)', node: 'tfjs-node (native CPU)', wasm: 'WASM (XNNPACK, SIMD)', cpu: 'pure-JS cpu' }[
    info.name
  ];
  const plural = info.threads === 1 ? 'thread' : 'threads';
  // Missing native packages are the normal case (--verbose only); a WASM failure that left pure JS is not.
  const wasmFailure = info.skipped.find((why) => why.startsWith('wasm:'));
  return `backend: ${label}, ${info.threads} ${plural}${info.requested === 'auto' ? ' (auto)' : ''}${wasmFailure ? ` because ${wasmFailure}` : ''}`;
}

/** What capgen uses of tfjs-node's own API: the TensorBoard event-file writer (`tf.node.summaryFileWriter`). */
export interface NativeSummaryApi {
  summaryFileWriter(logdir: string): { scalar(name: string, value: number, step: number): void; flush(): void };
}

/** tfjs-node(-gpu)'s `node` namespace when the current backend is native, else undefined (WASM and cpu have none). */
export function nativeNodeApi(): NativeSummaryApi | undefined {
  if (current?.name !== 'gpu' && current?.name !== 'node') return undefined;
  return (require(NATIVE_PACKAGES[current.name]) as { node: NativeSummaryApi }).node;
}
