// Loads what `capgen prepare` wrote (prepare.json, vocab.json, captions.jsonl, the feature cache)
// into compact arrays for training: one feature matrix, and token ids per caption.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CapgenError } from '../errors.js';
import { checkFeatureCoverage } from '../features/coverage.js';
import { warn } from '../log.js';
import type { EncoderIdentity, PrepareRecord, PreparedCaption, SplitName, VocabularyFile } from '../run/formats.js';
import { SPECIAL_IDS } from '../run/formats.js';
import { runPath } from '../run/layout.js';
import { float32ToFloat16 } from '../features/float16.js';
import { Vocabulary } from '../text/vocabulary.js';

/** What training needs from a feature cache (src/features/cache.ts provides it; tests inject one). */
export interface FeatureSource {
  readonly dim: number;
  get(image: string): Float32Array | undefined;
  close?(): void;
}

export type OpenFeatures = (dir: string, encoder: EncoderIdentity) => Promise<FeatureSource> | FeatureSource;

/**
 * The feature matrix as training keeps it, [images, featureSize] row-major: float32, or IEEE float16
 * bits (half the memory; src/train/batches.ts widens the rows of each batch back to float32).
 */
export type FeatureRows = Float32Array | Uint16Array;

/** `train --features-dtype`: how the feature matrix is held in memory ('auto': float16 for spatial features). */
export type FeaturesDtype = 'auto' | 'float32' | 'float16';
export const FEATURES_DTYPES: FeaturesDtype[] = ['auto', 'float32', 'float16'];

/**
 * auto: float16 for spatial features, float32 for pooled vectors. Spatial maps are H*W times larger
 * (Flickr8k MobileNet 7x7x1024: 1.4 GB of float32 for its 7000 train+dev images, Flickr30k 6 GB),
 * and float16's relative rounding (2^-11) is far below what dropout does to them; pooled vectors
 * are small, and float32 keeps runs trained before this option bit-identical.
 */
export function resolveFeaturesDtype(dtype: FeaturesDtype, featureShape: number[]): 'float32' | 'float16' {
  if (dtype !== 'auto') return dtype;
  return featureShape.length > 1 ? 'float16' : 'float32';
}

/** One caption, ready for teacher forcing. */
export interface Example {
  /** Row of the image in TrainingData.features. */
  imageRow: number;
  /** Word ids without start/end. */
  ids: Int32Array;
}

export interface TrainingData {
  prepare: PrepareRecord;
  encoder: EncoderIdentity;
  vocab: VocabularyFile;
  featureSize: number;
  /** [images, featureSize], row-major, held once (gradient replicas get batches, not this). */
  features: FeatureRows;
  images: string[];
  train: Example[];
  dev: Example[];
  /** The training split's images as captions.jsonl lists them (recorded in checkpoints: eval refuses to score on them). */
  trainImages: string[];
  /** Captions left out because their image has no cached feature. */
  missingFeatures: number;
}

async function readJson<T>(file: string, what: string): Promise<T> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new CapgenError('NOT_FOUND', `no ${what} in the run folder`, { file, hint: 'run `capgen prepare` first, or pass --run DIR' });
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new CapgenError('BAD_INPUT', `${what} is not valid JSON: ${(e as Error).message}`, { file });
  }
}

export async function readCaptions(file: string): Promise<PreparedCaption[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new CapgenError('NOT_FOUND', 'no captions in the run folder', { file, hint: 'run `capgen prepare` first' });
  }
  const out: PreparedCaption[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    try {
      const row = JSON.parse(lines[i]) as PreparedCaption;
      if (typeof row.image !== 'string' || !Array.isArray(row.tokens)) throw new Error('needs "image" and "tokens"');
      out.push(row);
    } catch (e) {
      throw new CapgenError('BAD_INPUT', `malformed caption line: ${(e as Error).message}`, { file, line: i + 1 });
    }
  }
  return out;
}

/** Word ids for cleaned tokens: unknown words map to <unk>; capped at maxLength words. */
export function encodeTokens(tokens: string[], index: Map<string, number>, maxLength: number): Int32Array {
  const n = Math.min(tokens.length, maxLength);
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = index.get(tokens[i]) ?? SPECIAL_IDS.unk;
  return ids;
}

/**
 * layout: what the decoder takes, pooled vectors [D] or spatial features [regions, channels].
 * dtype: how the feature matrix is held (default 'auto', see resolveFeaturesDtype).
 */
export async function loadTrainingData(
  runDir: string,
  openFeatures: OpenFeatures,
  opts: { layout: 'pooled' | 'spatial'; dtype?: FeaturesDtype } = { layout: 'pooled' },
): Promise<TrainingData> {
  const prepareFile = runPath(runDir, 'prepareJson');
  const prepare = await readJson<PrepareRecord>(prepareFile, 'prepare.json');
  if (!prepare.features) {
    throw new CapgenError('BAD_INPUT', 'this run has no image features', {
      file: prepareFile,
      hint: 'run `capgen prepare` with an encoder (not --encoder none)',
    });
  }
  const encoder = prepare.features.encoder;
  const spatial = encoder.featureShape.length > 1;
  if (spatial !== (opts.layout === 'spatial')) {
    const shape = `[${encoder.featureShape.join(', ')}]`;
    throw new CapgenError(
      'MISMATCH',
      opts.layout === 'pooled'
        ? `this decoder needs pooled feature vectors, but the features are ${shape}`
        : `this decoder attends over image regions, but the features are pooled vectors ${shape}`,
      {
        file: prepareFile,
        hint:
          opts.layout === 'pooled'
            ? 'prepare with --pooling avg, or train --decoder attention|transformer'
            : 'prepare with --pooling none, or train --decoder merge',
      },
    );
  }
  const vocab = await readJson<VocabularyFile>(runPath(runDir, 'vocab'), 'vocab.json');
  Vocabulary.fromFile(vocab, runPath(runDir, 'vocab')); // checked: reserved ids in place, and words to learn
  const index = new Map(vocab.tokens.map((t, i) => [t, i] as const));
  const captions = await readCaptions(runPath(runDir, 'captions'));
  const source = await openFeatures(path.join(runDir, prepare.features.dir), encoder);
  const featureSize = source.dim;

  // The images first, so that the matrix is allocated once at its final size: no per-image copies
  // held until the end (that doubled the peak memory of spatial features).
  const wanted = [...new Set(captions.filter((c) => c.split !== 'test').map((c) => c.image))];
  const dtype = resolveFeaturesDtype(opts.dtype ?? 'auto', encoder.featureShape);
  const matrix: FeatureRows =
    dtype === 'float16' ? new Uint16Array(wanted.length * featureSize) : new Float32Array(wanted.length * featureSize);
  const imageRows = new Map<string, number>();
  for (const image of wanted) {
    const vec = source.get(image);
    if (!vec) continue;
    if (vec.length !== featureSize)
      throw new CapgenError('BAD_INPUT', `feature of ${image} has ${vec.length} values, expected ${featureSize}`, {
        file: prepare.features.dir,
      });
    const row = imageRows.size;
    matrix.set(matrix instanceof Uint16Array ? float32ToFloat16(vec) : vec, row * featureSize);
    imageRows.set(image, row);
  }
  source.close?.();
  const bySplit: Record<SplitName, Example[]> = { train: [], dev: [], test: [] };
  let missingFeatures = 0;
  const missingImages = new Set<string>();
  const splitImages: Record<SplitName, Set<string>> = { train: new Set(), dev: new Set(), test: new Set() };
  for (const c of captions) {
    if (c.split === 'test') continue;
    splitImages[c.split]?.add(c.image);
    const row = imageRows.get(c.image);
    if (row === undefined) {
      missingFeatures++;
      missingImages.add(c.image);
      continue;
    }
    bySplit[c.split]?.push({ imageRow: row, ids: encodeTokens(c.tokens, index, prepare.maxCaptionLength) });
  }
  const coverage = (['train', 'dev'] as const).map((split) => ({
    split,
    images: splitImages[split].size,
    missing: [...splitImages[split]].filter((i) => missingImages.has(i)).length,
  }));
  checkFeatureCoverage(coverage, { cacheDir: path.join(runDir, prepare.features.dir), command: 'train' });
  if (missingFeatures) warn(`${missingFeatures} captions left out: their images have no cached feature`);
  if (bySplit.train.length === 0)
    throw new CapgenError('BAD_INPUT', 'no training captions with features', { file: runPath(runDir, 'captions') });
  // Rows of images without features stay unused at the end (a view, not a copy: no second peak).
  const features = imageRows.size === wanted.length ? matrix : matrix.subarray(0, imageRows.size * featureSize);
  return {
    prepare,
    encoder,
    vocab,
    featureSize,
    features,
    images: [...imageRows.keys()],
    train: bySplit.train,
    dev: bySplit.dev,
    trainImages: [...splitImages.train],
    missingFeatures,
  };
}
