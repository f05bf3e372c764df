// Self-describing checkpoints: checkpoint.json (architecture, sizes, vocabulary, cleaning rules,
// encoder identity, training config, metrics, weight layout) + weights.bin (+ optimizer.bin in
// `last/`, for --resume). eval, caption and serve rebuild the model from this folder alone.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CapgenError } from '../errors.js';
import { replaceDirAtomic, writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import type { EncoderIdentity, VocabularyFile } from '../run/formats.js';
import { runPath } from '../run/layout.js';
import type { CleaningRules } from '../text/clean.js';
import { ARCHITECTURE, MergeLstm, WEIGHT_NAMES, weightShapes, type MergeLstmSizes, type Weights } from './merge-lstm.js';
import type { StepDecoder } from './step-decoder.js';
import { sha256Hex, verifyFileHash } from './weights-hash.js';

export const CHECKPOINT_FILES = { meta: 'checkpoint.json', weights: 'weights.bin', optimizer: 'optimizer.bin' } as const;

/** What decoding code needs from any trained model. */
export type CaptionModel = StepDecoder & { dispose(): void };

export interface CheckpointMeta extends MergeLstmSizes {
  format: 1;
  architecture: typeof ARCHITECTURE;
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
  /** SHA-256 of each binary file (weights.bin, optimizer.bin), checked on read; absent in older checkpoints. */
  sha256?: Record<string, string>;
}

/** Adam's moments, in weight order, and its step count. */
export interface OptimizerArrays {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export function defaultCheckpointDir(runDir: string): string {
  return runPath(runDir, 'trainDir', 'best');
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

export async function saveCheckpoint(
  dir: string,
  content: { meta: Omit<CheckpointMeta, 'weights' | 'format' | 'architecture'>; weights: Weights; optimizer?: OptimizerArrays },
): Promise<void> {
  const shapes = weightShapes(content.meta);
  let offset = 0;
  const layout = WEIGHT_NAMES.map((name) => {
    const entry = { name, shape: shapes[name], offset };
    offset += content.weights[name].length;
    return entry;
  });
  const meta: CheckpointMeta = { format: 1, architecture: ARCHITECTURE, ...content.meta, weights: layout };
  await replaceDirAtomic(dir, async (tmp) => {
    const weightBytes = concat(WEIGHT_NAMES.map((n) => content.weights[n]));
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
    throw new CapgenError('BAD_INPUT', `checkpoint file has ${buf.byteLength} bytes, expected ${expectedValues * 4}`, { file, hint: 'the checkpoint is damaged; retrain or use the other checkpoint' });
  }
  verifyFileHash(file, buf, sha256);
  // Copy into an aligned buffer (a Node Buffer may start at any offset of a shared pool).
  const out = new Float32Array(expectedValues);
  new Uint8Array(out.buffer).set(buf);
  return out;
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
      hint: missing ? 'train a model first (`capgen train`), or give the run folder (--run) or checkpoint folder it is in' : undefined,
    });
  }
  if (meta.architecture !== ARCHITECTURE) {
    throw new CapgenError('BAD_INPUT', `unknown architecture '${String(meta.architecture)}'`, { file: metaFile, hint: `this capgen knows ${ARCHITECTURE}` });
  }
  const shapes = weightShapes(meta);
  const sizes = WEIGHT_NAMES.map((n) => shapes[n].reduce((a, d) => a * d, 1));
  const total = sizes.reduce((a, n) => a + n, 0);
  const flat = await readBinary(path.join(dir, CHECKPOINT_FILES.weights), total, meta.sha256?.[CHECKPOINT_FILES.weights]);
  const weights = {} as Weights;
  let offset = 0;
  WEIGHT_NAMES.forEach((name, i) => {
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
export async function loadCheckpoint(dir: string): Promise<{ meta: CheckpointMeta; model: MergeLstm }> {
  const { meta, weights } = await readCheckpoint(dir);
  return { meta, model: new MergeLstm(meta, weights) };
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
