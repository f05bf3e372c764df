// The one module that loads ONNX Runtime (onnxruntime-node): capgen's fast CPU engine for image encoders,
// training and decoding. A dependency, but its native binding can still be missing (an install that skipped
// it, a platform without its binaries): loading never throws, a missing package yields the reason instead.
import { createRequire } from 'node:module';
import { CapgenError } from '../../errors.js';
import { warn } from '../../log.js';
import { threadsWanted } from '../../backend/index.js';

/** The part of onnxruntime-node's API capgen uses (typed here: the package may be absent). */
export interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
  dispose?(): void;
}
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
export interface OrtSessionOptions {
  intraOpNumThreads?: number;
  enableCpuMemArena?: boolean;
  interOpNumThreads?: number;
  executionMode?: 'sequential' | 'parallel';
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /** Session config entries, nested by their dotted keys (e.g. session.intra_op.allow_spinning). */
  extra?: Record<string, unknown>;
}
export interface OnnxRuntime {
  InferenceSession: { create(model: Uint8Array, options?: OrtSessionOptions): Promise<OrtSession> };
  Tensor: {
    new (type: 'float32', data: Float32Array, dims: readonly number[]): OrtTensor;
    new (type: 'int32', data: Int32Array, dims: readonly number[]): OrtTensor;
    new (type: 'int64', data: BigInt64Array, dims: readonly number[]): OrtTensor;
  };
  env: { versions: { node?: string; common?: string } };
}

const PACKAGE = 'onnxruntime-node';
/** How to get ONNX Runtime back: its install script only downloads CUDA files capgen does not use, so skip it. */
export const ONNX_INSTALL_HINT = `install it with \`ONNXRUNTIME_NODE_INSTALL=skip npm install ${PACKAGE}@1.30.0\` where capgen is installed (the variable skips its CUDA download), or use --engine tfjs`;

const require = createRequire(import.meta.url);
let loaded: { ort?: OnnxRuntime; reason?: string } | undefined;

/** onnxruntime-node when it loads here; otherwise undefined and `onnxUnavailableReason()` says why. */
export function loadOnnxRuntime(): OnnxRuntime | undefined {
  if (!loaded) {
    try {
      const ort = require(PACKAGE) as OnnxRuntime;
      if (typeof ort?.InferenceSession?.create !== 'function') throw new Error('the package has no InferenceSession');
      loaded = { ort };
    } catch (e) {
      loaded = { reason: `${PACKAGE}: ${String((e as Error).message ?? e).split('\n')[0]}` };
    }
  }
  return loaded.ort;
}

let warnedMissing = false;

/**
 * One warning line per process when `auto` runs TensorFlow.js because ONNX Runtime is missing: the
 * command still works, several times slower, and the user should learn why and how to fix it.
 */
export function warnOnnxMissing(): void {
  if (warnedMissing || loadOnnxRuntime()) return;
  warnedMissing = true;
  warn(
    `ONNX Runtime is not available (${onnxUnavailableReason()}): running on TensorFlow.js instead, several times slower; ${ONNX_INSTALL_HINT}`,
  );
}

export function onnxUnavailableReason(): string | undefined {
  loadOnnxRuntime();
  return loaded?.reason;
}

/** ONNX Runtime's version, e.g. '1.30.0' (undefined when it does not load). */
export function onnxVersion(): string | undefined {
  return loadOnnxRuntime()?.env.versions.node;
}

/** A session on the CPU for an in-memory model; throws BACKEND when ONNX Runtime is missing. */
export async function createOnnxSession(
  model: Uint8Array,
  opts: { threads?: number; memoryArena?: boolean } = {},
): Promise<{ session: OrtSession; threads: number; ort: OnnxRuntime }> {
  const ort = loadOnnxRuntime();
  if (!ort) throw new CapgenError('BACKEND', `the onnx engine is not available: ${onnxUnavailableReason()}`, { hint: ONNX_INSTALL_HINT });
  const threads = opts.threads ?? threadsWanted(); // one per core, or $CAPGEN_THREADS, as for WASM
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    // Default on (ORT's own default). Off for the training engine: each of its many graphs (one per
    // caption length) would keep an arena as large as its own peak.
    enableCpuMemArena: opts.memoryArena ?? true,
    interOpNumThreads: 1, // the encoders are one chain of convolutions: nothing to run side by side
    executionMode: 'sequential',
    graphOptimizationLevel: 'all', // fuses Conv+Add+Relu and Conv+Clip, as the tfjs version's fused conv does
    logSeverityLevel: 3, // errors only: ORT's warnings about unused initializers are noise here
    // Idle ORT threads sleep instead of spinning: sharp decodes the next batch on the same cores
    // (bench/features.mjs: MobileNet 0.020-0.021 vs 0.024-0.025 CPU-s/image with spinning).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  return { session, threads, ort };
}
