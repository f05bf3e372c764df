// Self-describing checkpoints: checkpoint.json (architecture, sizes, vocabulary, cleaning rules,
// encoder identity, training config, metrics, weight layout) + weights.bin (+ optimizer.bin in
// `last/`, for --resume). eval, caption and serve rebuild the model from this folder alone.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { CapgenError } from '../errors.js';
import { replaceDirAtomic, writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import type { EncoderIdentity, VocabularyFile } from '../run/formats.js';
import { DEFAULT_DEMO_RUN_DIR, DEFAULT_RUN_DIR, defaultCheckpointDir, runPath } from '../run/layout.js';
export { defaultCheckpointDir };
import type { CleaningRules } from '../text/clean.js';
import { sizeOf, type BaseSizes, type DecoderSpec, type Weights } from './decoder.js';
import { decoderFor, knownArchitectures } from './registry.js';
import type { StepDecoder } from './step-decoder.js';
import { TfjsDecoder } from './tfjs-decoder.js';
import { ONNX_INSTALL_HINT, warnOnnxMissing } from '../features/onnx/runtime.js';
import { OnnxStepDecoder } from '../engine/onnx/step-decoder.js';
import { syncSessionUnavailableReason } from '../engine/onnx/sync-session.js';
import { hostBackend } from '../engine/tfjs-ops.js';
import { debug } from '../log.js';
import { sha256Hex, verifyFileHash } from './weights-hash.js';

export const CHECKPOINT_FILES = { meta: 'checkpoint.json', weights: 'weights.bin', optimizer: 'optimizer.bin' } as const;

/** What decoding code needs from any trained model. */
export type CaptionModel = StepDecoder & { readonly spec: DecoderSpec; readonly sizes: BaseSizes; dispose(): void };

/** The decoder's sizes sit at the top level beside these fields (DecoderSpec.sizesFrom reads them). */
export interface CheckpointMeta extends BaseSizes {
  format: 1;
  /** The decoder (src/model/registry.ts): 'merge-lstm', 'attention-lstm', 'transformer'. */
  architecture: string;
  vocab: VocabularyFile;
  cleaning: CleaningRules;
  encoder: EncoderIdentity;
  /** Longest caption in words (without start/end): decoding stops after maxCaptionLength + 1 words. */
  maxCaptionLength: number;
  trainConfig: Record<string, unknown>;
  /** Completed epochs. */
  epoch: number;
  metrics: Record<string, number>;
  createdAt: string;
  /** float32 little-endian arrays in weights.bin; offset and length in values. */
  weights: { name: string; shape: number[]; offset: number }[];
  /** Only in `last/`: where the loop stands, for --resume (owned by src/train). */
  trainState?: Record<string, unknown>;
  /** Written by `capgen average`: the checkpoints whose weights this one's are the mean of. */
  averagedFrom?: { checkpoint: string; epoch: number }[];
  /** SHA-256 of each binary file (weights.bin, optimizer.bin), checked on read; absent in older checkpoints. */
  sha256?: Record<string, string>;
}

/** Adam's moments, in weight order, and its step count. */
export interface OptimizerArrays {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export function lastCheckpointDir(runDir: string): string {
  return runPath(runDir, 'trainDir', 'last');
}

function concat(arrays: Float32Array[]): Uint8Array {
  const total = arrays.reduce((n, a) => n + a.length, 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return new Uint8Array(out.buffer);
}

/** The spec of a meta's architecture; BAD_INPUT naming the file for one this capgen does not know. */
function specOf(meta: { architecture: string }, file: string): DecoderSpec {
  const spec = decoderFor(meta.architecture);
  if (!spec)
    throw new CapgenError('BAD_INPUT', `unknown architecture '${String(meta.architecture)}'`, {
      file,
      hint: `this capgen knows ${knownArchitectures().join(', ')}`,
    });
  return spec;
}

export async function saveCheckpoint(
  dir: string,
  content: { meta: Omit<CheckpointMeta, 'weights' | 'format'>; weights: Weights; optimizer?: OptimizerArrays },
): Promise<void> {
  const spec = specOf(content.meta, path.join(dir, CHECKPOINT_FILES.meta));
  const shapes = spec.weightShapes(spec.sizesFrom(content.meta as unknown as Record<string, unknown>));
  let offset = 0;
  const layout = shapes.map(([name, shape]) => {
    if (content.weights[name]?.length !== sizeOf(shape))
      throw new Error(`saveCheckpoint: weight '${name}' has ${content.weights[name]?.length} values, expected ${sizeOf(shape)}`);
    const entry = { name, shape, offset };
    offset += content.weights[name].length;
    return entry;
  });
  const meta: CheckpointMeta = { format: 1, ...content.meta, weights: layout };
  await replaceDirAtomic(dir, async (tmp) => {
    const weightBytes = concat(shapes.map(([n]) => content.weights[n]));
    await writeFileAtomic(path.join(tmp, CHECKPOINT_FILES.weights), weightBytes);
    meta.sha256 = { [CHECKPOINT_FILES.weights]: sha256Hex(weightBytes) };
    if (content.optimizer) {
      const o = content.optimizer;
      const optimizerBytes = concat([...o.m, ...o.v]);
      await writeFileAtomic(path.join(tmp, CHECKPOINT_FILES.optimizer), optimizerBytes);
      meta.sha256[CHECKPOINT_FILES.optimizer] = sha256Hex(optimizerBytes);
      meta.trainState = { ...meta.trainState, optimizerStep: o.step };
    }
    await writeJsonAtomic(path.join(tmp, CHECKPOINT_FILES.meta), meta);
  });
}

async function readBinary(file: string, expectedValues: number, sha256?: string): Promise<Float32Array> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(file);
  } catch {
    throw new CapgenError('NOT_FOUND', 'checkpoint file is missing', { file });
  }
  if (buf.byteLength !== expectedValues * 4) {
    throw new CapgenError('BAD_INPUT', `checkpoint file has ${buf.byteLength} bytes, expected ${expectedValues * 4}`, {
      file,
      hint: 'the checkpoint is damaged; retrain or use the other checkpoint',
    });
  }
  verifyFileHash(file, buf, sha256);
  // Copy into an aligned buffer (a Node Buffer may start at any offset of a shared pool).
  const out = new Float32Array(expectedValues);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/**
 * What to do about a checkpoint folder that is not there. Right after `capgen demo` the default run
 * folder has no model but the demo's has: say where it is rather than only "train first".
 */
function missingCheckpointHint(dir: string): string {
  const demo = defaultCheckpointDir(DEFAULT_DEMO_RUN_DIR);
  const isDefault = path.resolve(dir) === path.resolve(defaultCheckpointDir(DEFAULT_RUN_DIR));
  if (isDefault && existsSync(path.join(demo, CHECKPOINT_FILES.meta)))
    return `${DEFAULT_RUN_DIR}/ holds no trained model, but \`capgen demo\` left one in ${DEFAULT_DEMO_RUN_DIR}: add --run ${DEFAULT_DEMO_RUN_DIR}`;
  return 'train a model first (`capgen train`), or give the run folder (--run) or checkpoint folder it is in';
}

/** Meta, weights and (when present) optimizer state, as plain arrays. */
export async function readCheckpoint(dir: string): Promise<{ meta: CheckpointMeta; weights: Weights; optimizer?: OptimizerArrays }> {
  const metaFile = path.join(dir, CHECKPOINT_FILES.meta);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(await fs.readFile(metaFile, 'utf8')) as CheckpointMeta;
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new CapgenError(missing ? 'NOT_FOUND' : 'BAD_INPUT', missing ? 'no checkpoint here' : `checkpoint.json is not valid JSON`, {
      file: metaFile,
      hint: missing ? missingCheckpointHint(dir) : undefined,
    });
  }
  const spec = specOf(meta, metaFile);
  let shapes: [string, number[]][];
  try {
    shapes = spec.weightShapes(spec.sizesFrom(meta as unknown as Record<string, unknown>));
  } catch (e) {
    throw new CapgenError('BAD_INPUT', `checkpoint.json does not describe a ${meta.architecture} model: ${(e as Error).message}`, {
      file: metaFile,
    });
  }
  const names = shapes.map(([n]) => n);
  const sizes = shapes.map(([, shape]) => sizeOf(shape));
  const total = sizes.reduce((a, n) => a + n, 0);
  const flat = await readBinary(path.join(dir, CHECKPOINT_FILES.weights), total, meta.sha256?.[CHECKPOINT_FILES.weights]);
  const weights: Weights = {};
  let offset = 0;
  names.forEach((name, i) => {
    weights[name] = flat.subarray(offset, offset + sizes[i]);
    offset += sizes[i];
  });
  const step = meta.trainState?.optimizerStep;
  let optimizer: OptimizerArrays | undefined;
  if (typeof step === 'number') {
    const opt = await readBinary(path.join(dir, CHECKPOINT_FILES.optimizer), 2 * total, meta.sha256?.[CHECKPOINT_FILES.optimizer]);
    const parts: Float32Array[] = [];
    let o = 0;
    for (const n of [...sizes, ...sizes]) {
      parts.push(opt.subarray(o, o + n));
      o += n;
    }
    optimizer = { step, m: parts.slice(0, sizes.length), v: parts.slice(sizes.length) };
  }
  return { meta, weights, optimizer };
}

/** The model and everything needed to use it (vocabulary, cleaning, encoder) from a checkpoint folder. */
/**
 * engine 'auto' (default): ONNX Runtime where tfjs runs on the host (WASM, cpu: native kernels, one
 * graph call per step) and synchronous ONNX sessions load; tfjs otherwise (native backends keep the
 * data on their device).
 */
export async function loadCheckpoint(
  dir: string,
  opts: { engine?: 'auto' | 'onnx' | 'tfjs' } = {},
): Promise<{ meta: CheckpointMeta; model: CaptionModel; engine: 'onnx' | 'tfjs' }> {
  const { meta, weights } = await readCheckpoint(dir);
  const spec = specOf(meta, path.join(dir, CHECKPOINT_FILES.meta));
  const sizes = spec.sizesFrom(meta as unknown as Record<string, unknown>);
  const engine = opts.engine ?? 'auto';
  if (engine === 'onnx' || (engine === 'auto' && hostBackend())) {
    let model: OnnxStepDecoder | undefined;
    let why: string | undefined;
    try {
      model = OnnxStepDecoder.create(spec, sizes, weights);
    } catch (e) {
      if (engine === 'onnx') throw e;
      why = `its graphs could not be built: ${(e as Error).message}`; // auto: tfjs runs any decoder
    }
    if (model) return { meta, model, engine: 'onnx' };
    why ??= syncSessionUnavailableReason() ?? 'unknown reason';
    if (engine === 'onnx')
      throw new CapgenError('BACKEND', `the onnx decoding engine is not available: ${why}`, { hint: ONNX_INSTALL_HINT });
    warnOnnxMissing(); // says nothing when ONNX Runtime loads and only its sessions' binding is missing
    debug(`decoding on tfjs: ONNX Runtime sessions are unavailable (${why})`);
  }
  return { meta, model: new TfjsDecoder(spec, sizes, weights), engine: 'tfjs' };
}

/** Keys that decide what a feature vector means (`source` is only informational). */
function encoderKey(e: EncoderIdentity): string {
  return JSON.stringify([e.architecture, e.weightsHash, e.layer, e.preprocess, e.resize, e.pooling, e.inputSize, e.featureShape]);
}

/** Refuses features computed by another encoder than the checkpoint's (MISMATCH). */
export function assertSameEncoder(checkpoint: EncoderIdentity, features: EncoderIdentity, file: string): void {
  if (encoderKey(checkpoint) === encoderKey(features)) return;
  const diff = (Object.keys(checkpoint) as (keyof EncoderIdentity)[])
    .filter((k) => k !== 'source' && k !== 'sourceInRun' && JSON.stringify(checkpoint[k]) !== JSON.stringify(features[k]))
    .map((k) => `${k} ${JSON.stringify(checkpoint[k])} vs ${JSON.stringify(features[k])}`);
  throw new CapgenError('MISMATCH', `the checkpoint was trained on features from another encoder (${diff.join('; ')})`, {
    file,
    hint: 'use the features (and encoder) the checkpoint was trained with, or train a new model on these',
  });
}

/** The history.json path that eval reports read. */
export function historyFile(runDir: string): string {
  return runPath(runDir, 'trainDir', 'history.json');
}
