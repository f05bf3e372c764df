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
import { sha256Hex, verifyFileHash } from './weights-hash.js';

export const CHECKPOINT_FILES = {
  meta: 'checkpoint.json',
  weights: 'weights.bin',
  optimizer: 'optimizer.bin',
  /** The training split's image names, sorted, one a line: eval refuses to score on any of them. */
  trainImages: 'train-images.txt',
} as const;

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
  /** SHA-256 of each other file of the folder (weights.bin, optimizer.bin, train-images.txt), checked on read. */
  sha256: Record<string, string>;
  /** The images the weights were trained on (train-images.txt); absent when the writer did not know them. */
  trainSplit?: TrainSplitRecord;
  /** SHA-256 of this file's canonical JSON without this field: a hand edit is found on read. */
  contentSha256: string;
}

/** Which images a checkpoint was trained on: their count and the SHA-256 of train-images.txt. */
export interface TrainSplitRecord {
  images: number;
  sha256: string;
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

export interface CheckpointContent {
  meta: Omit<CheckpointMeta, 'weights' | 'format' | 'sha256' | 'contentSha256' | 'trainSplit'>;
  weights: Weights;
  optimizer?: OptimizerArrays;
  /** The training split's image names (any order): recorded so that eval can refuse to score on them. */
  trainImages?: Iterable<string>;
}

/** train-images.txt's bytes: the names sorted, one a line. */
function trainImagesText(names: Iterable<string>): string {
  const sorted = [...new Set(names)].sort();
  return sorted.length ? `${sorted.join('\n')}\n` : '';
}

/** The record a checkpoint trained on `names` carries (what train --resume and prepare compare). */
export function trainSplitRecord(names: Iterable<string>): TrainSplitRecord {
  return splitRecordOf(trainImagesText(names));
}

function splitRecordOf(text: string): TrainSplitRecord {
  return { images: text ? text.split('\n').length - 1 : 0, sha256: sha256Hex(Buffer.from(text, 'utf8')) };
}

/** JSON with every object's keys sorted: the same value always gives the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The hash checkpoint.json records of itself (its content without `contentSha256`). */
function contentHashOf(meta: { contentSha256?: unknown }): string {
  const { contentSha256: _self, ...rest } = meta;
  return sha256Hex(Buffer.from(canonicalJson(rest), 'utf8'));
}

export async function saveCheckpoint(dir: string, content: CheckpointContent): Promise<void> {
  const spec = specOf(content.meta, path.join(dir, CHECKPOINT_FILES.meta));
  const shapes = spec.weightShapes(spec.sizesFrom(content.meta));
  let offset = 0;
  const layout = shapes.map(([name, shape]) => {
    if (content.weights[name]?.length !== sizeOf(shape))
      throw new Error(`saveCheckpoint: weight '${name}' has ${content.weights[name]?.length} values, expected ${sizeOf(shape)}`);
    const entry = { name, shape, offset };
    offset += content.weights[name].length;
    return entry;
  });
  const { sha256: _s, contentSha256: _c, trainSplit: _t, ...given } = content.meta as Partial<CheckpointMeta>;
  const meta = { format: 1, ...given, weights: layout, sha256: {} } as Omit<CheckpointMeta, 'contentSha256'>;
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
    if (content.trainImages) {
      const text = trainImagesText(content.trainImages);
      await writeFileAtomic(path.join(tmp, CHECKPOINT_FILES.trainImages), text);
      meta.trainSplit = splitRecordOf(text);
      meta.sha256[CHECKPOINT_FILES.trainImages] = meta.trainSplit.sha256;
    }
    // Through JSON first, so that the hash is of exactly what a reader parses (undefined fields dropped).
    const plain = JSON.parse(JSON.stringify(meta)) as Record<string, unknown>;
    await writeJsonAtomic(path.join(tmp, CHECKPOINT_FILES.meta), { ...plain, contentSha256: contentHashOf(plain) });
  });
}

async function readBytes(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CapgenError('NOT_FOUND', 'checkpoint file is missing', { file });
    throw e;
  }
}

async function readBinary(file: string, expectedValues: number, sha256: string): Promise<Float32Array> {
  const buf = await readBytes(file);
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

const UNSEALED_HINT =
  'checkpoints are checked against the hashes their checkpoint.json records; one without them was written by an older capgen or edited by hand: retrain it (`capgen train --overwrite`)';

/** Parses checkpoint.json and checks its own hash (a hand edit, a removed hash field: exit 2). */
async function readMeta(metaFile: string): Promise<CheckpointMeta> {
  let text: string;
  try {
    text = await fs.readFile(metaFile, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw new CapgenError('NOT_FOUND', 'no checkpoint here', {
      file: metaFile,
      hint: missingCheckpointHint(path.dirname(metaFile)),
    });
  }
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(text) as CheckpointMeta;
  } catch {
    throw new CapgenError('BAD_INPUT', 'checkpoint.json is not valid JSON', { file: metaFile, hint: 'the checkpoint is damaged; retrain' });
  }
  if (!meta || typeof meta !== 'object' || Array.isArray(meta))
    throw new CapgenError('BAD_INPUT', 'checkpoint.json is not a JSON object', {
      file: metaFile,
      hint: 'the checkpoint is damaged; retrain',
    });
  if (typeof meta.contentSha256 !== 'string' || !meta.sha256 || typeof meta.sha256 !== 'object')
    throw new CapgenError('BAD_INPUT', `checkpoint.json has no ${meta.sha256 ? 'contentSha256' : 'sha256'} field`, {
      file: metaFile,
      hint: UNSEALED_HINT,
    });
  if (contentHashOf(meta) !== meta.contentSha256)
    throw new CapgenError('BAD_INPUT', 'checkpoint.json was changed after it was written: its content does not match its contentSha256', {
      file: metaFile,
      hint: 'restore the folder from a copy, use the other checkpoint (train/best or train/last), or retrain',
    });
  return meta;
}

/** checkpoint.json alone, its own hash checked (no weights read): what a checkpoint says about itself. */
export async function readCheckpointMeta(dir: string): Promise<CheckpointMeta> {
  return (await consistentRead(dir, () => readMeta(path.join(dir, CHECKPOINT_FILES.meta)))).value;
}

/** Refuses weights with NaN or infinite values: they decode to one repeated word, never an error. */
function assertFinite(weights: Weights, file: string): void {
  for (const [name, values] of Object.entries(weights)) {
    let bad = 0;
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) bad++;
    if (bad)
      throw new CapgenError('BAD_INPUT', `weight '${name}' has ${bad} of ${values.length} values NaN or infinite`, {
        file,
        hint: 'the model diverged or the file was written wrong; use the other checkpoint or retrain',
      });
  }
}

export interface ReadCheckpointOptions {
  /** Also read train-images.txt (checked against its hash): the images the weights were trained on. */
  trainImages?: boolean;
}

export interface CheckpointRead {
  meta: CheckpointMeta;
  weights: Weights;
  optimizer?: OptimizerArrays;
  /** With `trainImages`: the training split's names, sorted (undefined when the checkpoint does not record them). */
  trainImages?: string[];
}

// Attempts at a consistent read while a writer replaces the folder. Only a read that overlapped a
// replacement is repeated (damage on disk fails at once), so the bound matters only against a writer
// replacing the folder back to back: then each attempt has a fair chance, and 50 make a miss negligible
// while capping the wait near a second.
const CONSISTENT_READ_ATTEMPTS = 50;
const CONSISTENT_READ_PAUSE_MS = 10;

async function folderIdentity(dir: string): Promise<string | undefined> {
  try {
    // An inode number alone can come back: the folder a replacement removed frees it for the next one.
    const st = await fs.stat(dir, { bigint: true });
    return `${st.dev}:${st.ino}:${st.ctimeNs}:${st.mtimeNs}`;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** A sibling temp folder of `dir`'s writer (replaceDirAtomic): a replacement is under way or was cut off. */
async function replacementNearby(dir: string): Promise<boolean> {
  const prefix = `.${path.basename(dir)}.`;
  try {
    return (await fs.readdir(path.dirname(dir))).some((name) => name.startsWith(prefix) && /\.tmp(\.old)?$/.test(name));
  } catch {
    return false;
  }
}

/**
 * Runs `read` (which reads files inside `dir`) so that everything it read came from one version of
 * the folder: `train` replaces best/ and last/ by renaming a new folder into place, so a reader may
 * find the folder missing for an instant, or read checkpoint.json of one version and weights.bin of
 * the next. Either shows as the folder's identity changing (or vanishing) around the read; then the
 * read is done again. An error from a read during which the folder did not change is the folder's own.
 */
async function consistentRead<T>(dir: string, read: () => Promise<T>): Promise<{ value: T }> {
  for (let attempt = 1; ; attempt++) {
    const last = attempt >= CONSISTENT_READ_ATTEMPTS;
    const before = await folderIdentity(dir);
    if (before === undefined && !last && (await replacementNearby(dir))) {
      await new Promise((r) => setTimeout(r, CONSISTENT_READ_PAUSE_MS));
      continue;
    }
    let value: T | undefined;
    let error: unknown;
    let failed = false;
    try {
      value = await read();
    } catch (e) {
      error = e;
      failed = true;
    }
    const after = await folderIdentity(dir);
    // unchanged, or missing before and after with no writer at work: the outcome is the folder's own
    const settled = before !== undefined ? before === after : after === undefined && !(await replacementNearby(dir));
    if (last || settled) {
      if (failed) throw error;
      return { value: value as T };
    }
    await new Promise((r) => setTimeout(r, CONSISTENT_READ_PAUSE_MS));
  }
}

/** Meta, weights and (when present) optimizer state, as plain arrays; every hash checked. */
export async function readCheckpoint(dir: string, opts: ReadCheckpointOptions = {}): Promise<CheckpointRead> {
  return (await consistentRead(dir, () => readCheckpointOnce(dir, opts))).value;
}

async function readCheckpointOnce(dir: string, opts: ReadCheckpointOptions): Promise<CheckpointRead> {
  const metaFile = path.join(dir, CHECKPOINT_FILES.meta);
  const meta = await readMeta(metaFile);
  const spec = specOf(meta, metaFile);
  let shapes: [string, number[]][];
  try {
    shapes = spec.weightShapes(spec.sizesFrom(meta));
  } catch (e) {
    throw new CapgenError('BAD_INPUT', `checkpoint.json does not describe a ${meta.architecture} model: ${(e as Error).message}`, {
      file: metaFile,
    });
  }
  const names = shapes.map(([n]) => n);
  const sizes = shapes.map(([, shape]) => sizeOf(shape));
  const total = sizes.reduce((a, n) => a + n, 0);
  const weightsFile = path.join(dir, CHECKPOINT_FILES.weights);
  const flat = await readBinary(weightsFile, total, requiredHash(meta, CHECKPOINT_FILES.weights, metaFile));
  const weights: Weights = {};
  let offset = 0;
  names.forEach((name, i) => {
    weights[name] = flat.subarray(offset, offset + sizes[i]);
    offset += sizes[i];
  });
  assertFinite(weights, weightsFile);
  const step = meta.trainState?.optimizerStep;
  let optimizer: OptimizerArrays | undefined;
  if (typeof step === 'number') {
    const optimizerFile = path.join(dir, CHECKPOINT_FILES.optimizer);
    const opt = await readBinary(optimizerFile, 2 * total, requiredHash(meta, CHECKPOINT_FILES.optimizer, metaFile));
    const parts: Float32Array[] = [];
    let o = 0;
    for (const n of [...sizes, ...sizes]) {
      parts.push(opt.subarray(o, o + n));
      o += n;
    }
    optimizer = { step, m: parts.slice(0, sizes.length), v: parts.slice(sizes.length) };
  }
  let trainImages: string[] | undefined;
  if (opts.trainImages && meta.trainSplit) {
    const file = path.join(dir, CHECKPOINT_FILES.trainImages);
    const bytes = await readBytes(file);
    verifyFileHash(file, bytes, requiredHash(meta, CHECKPOINT_FILES.trainImages, metaFile));
    trainImages = bytes.toString('utf8').split('\n').filter(Boolean);
  }
  return { meta, weights, optimizer, ...(trainImages ? { trainImages } : {}) };
}

/** The hash checkpoint.json records for one of its files; a file without one is refused. */
function requiredHash(meta: CheckpointMeta, name: string, metaFile: string): string {
  const hash = meta.sha256[name];
  if (typeof hash !== 'string')
    throw new CapgenError('BAD_INPUT', `checkpoint.json records no sha256 for ${name}`, { file: metaFile, hint: UNSEALED_HINT });
  return hash;
}

/**
 * The decoder a checkpoint's meta describes: its spec (BAD_INPUT naming checkpoint.json for an
 * architecture this capgen does not know) and its sizes. What runs it is the engines' business
 * (src/engine/decoder.ts).
 */
export function checkpointDecoder(meta: CheckpointMeta, dir: string): { spec: DecoderSpec; sizes: BaseSizes } {
  const spec = specOf(meta, path.join(dir, CHECKPOINT_FILES.meta));
  return { spec, sizes: spec.sizesFrom(meta) };
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

/** Refuses to go on training a checkpoint on another training split than the one it was trained on (MISMATCH). */
export function assertSameTrainSplit(meta: CheckpointMeta, trainImages: Iterable<string>, file: string): void {
  if (!meta.trainSplit) return;
  const now = trainSplitRecord(trainImages);
  if (now.sha256 === meta.trainSplit.sha256) return;
  throw new CapgenError(
    'MISMATCH',
    `the run's training split changed since this checkpoint was trained (${meta.trainSplit.images} images then, ${now.images} now): resuming would train on images it may be evaluated on`,
    {
      file,
      hint: 'prepare the run again with the split it was trained with (same --split and --seed), or start a new training with `capgen train --overwrite`',
    },
  );
}

/**
 * Refuses to score a checkpoint on images it was trained on (MISMATCH): after `prepare` again with
 * another split, the evaluated split can hold training images, and the scores would be inflated.
 */
export function assertNotTrainedOn(opts: {
  trainImages: readonly string[] | undefined;
  evaluated: readonly string[];
  split: string;
  file: string;
}): void {
  if (!opts.trainImages) return;
  const trained = new Set(opts.trainImages);
  const overlap = opts.evaluated.filter((image) => trained.has(image));
  if (!overlap.length) return;
  throw new CapgenError(
    'MISMATCH',
    `${overlap.length} of the ${opts.evaluated.length} images of the ${opts.split} split were in this checkpoint's training split (e.g. ${overlap[0]}): its scores on them would be meaningless`,
    {
      file: opts.file,
      hint: 'the run was prepared again with another split after training: prepare it with the split the model was trained with, or train again (`capgen train --overwrite`)',
    },
  );
}

/** The history.json path that eval reports read. */
export function historyFile(runDir: string): string {
  return runPath(runDir, 'trainDir', 'history.json');
}
