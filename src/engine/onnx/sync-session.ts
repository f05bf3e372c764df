// ONNX Runtime sessions that run synchronously. onnxruntime-node's public InferenceSession.run is
// async only, yet it runs the graph synchronously on the main thread anyway (inside a setImmediate);
// caption search (src/decode) takes one synchronous model step per word. So decoding calls the
// package's native binding directly — the same object its public class wraps — for the exact
// onnxruntime-node version capgen pins. If that binding is not where this version keeps it, `open`
// says why and callers decode on tfjs instead (logged).
import { createRequire } from 'node:module';
import path from 'node:path';
import { loadOnnxRuntime, type OrtTensor } from './runtime.js';
import { threadsWanted } from '../../backend/index.js';

interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: Record<string, unknown>): void;
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, null>, options: Record<string, unknown>): Record<string, OrtTensor>;
  outputMetadata: { name: string }[];
}
interface NativeBinding {
  binding: { InferenceSession: new () => NativeSession };
  initOrt(): void;
}

const require = createRequire(import.meta.url);
let native: { binding?: NativeBinding; reason?: string } | undefined;

function loadBinding(): NativeBinding | undefined {
  if (!native) {
    try {
      if (!loadOnnxRuntime()) throw new Error('onnxruntime-node is not installed');
      const dir = path.dirname(require.resolve('onnxruntime-node'));
      const b = require(path.join(dir, 'binding.js')) as NativeBinding;
      if (typeof b?.binding?.InferenceSession !== 'function' || typeof b.initOrt !== 'function')
        throw new Error("onnxruntime-node's native binding has another shape in this version");
      b.initOrt();
      native = { binding: b };
    } catch (e) {
      native = { reason: (e as Error).message };
    }
  }
  return native.binding;
}

/** Why synchronous sessions are unavailable (undefined when they are available). */
export function syncSessionUnavailableReason(): string | undefined {
  loadBinding();
  return native?.reason;
}

export class SyncSession {
  private readonly session: NativeSession;
  private readonly fetches: Record<string, null>;

  private constructor(session: NativeSession) {
    this.session = session;
    this.fetches = Object.fromEntries(session.outputMetadata.map((m) => [m.name, null]));
  }

  /** A CPU session for an in-memory model, or undefined (see syncSessionUnavailableReason). */
  static open(model: Uint8Array, opts: { threads?: number } = {}): SyncSession | undefined {
    const b = loadBinding();
    if (!b) return undefined;
    const session = new b.binding.InferenceSession();
    session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {
      intraOpNumThreads: opts.threads ?? threadsWanted(),
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3, // errors only
    });
    return new SyncSession(session);
  }

  run(feeds: Record<string, OrtTensor>): Record<string, OrtTensor> {
    return this.session.run(feeds, this.fetches, {});
  }
}
