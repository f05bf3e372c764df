// Loads what `capgen prepare` wrote (prepare.json, vocab.json, captions.jsonl, the feature cache)
// for training: token ids per caption, and the image features as a store (src/train/feature-store.ts):
// every row in memory, or each batch's rows read from the cache on disk.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CapgenError } from '../errors.js';
import { checkFeatureCoverage } from '../features/coverage.js';
import { warn } from '../log.js';
import type { EncoderIdentity, PrepareRecord, PreparedCaption, SplitName, VocabularyFile } from '../run/formats.js';
import { SPECIAL_IDS } from '../run/formats.js';
import { runPath } from '../run/layout.js';
import {
  defaultFeatureMemoryBytes,
  DiskFeatureStore,
  MemoryFeatureStore,
  resolveFeatureStore,
  type FeatureStore,
  type FeatureStoreChoice,
  type StoredRows,
} from './feature-store.js';
import { Vocabulary } from '../text/vocabulary.js';

/** What training needs from a feature cache (src/features/cache.ts provides it; tests inject one). */
export interface FeatureSource {
  readonly dim: number;
  get(image: string): Float32Array | undefined;
  /**
   * Positional access to the stored rows (the feature cache's FeatureRowFile has it): what
   * `--feature-store disk` reads batches with. Sources without it are loaded into memory.
   */
  readonly rowFile?: StoredRows & { rowOf(image: string): number | undefined };
  close?(): void;
}

export type OpenFeatures = (dir: string, encoder: EncoderIdentity) => Promise<FeatureSource> | FeatureSource;

/**
 * A feature matrix [images, featureSize] row-major: float32, or IEEE float16 bits (half the memory;
 * src/train/batches.ts widens the rows of each batch back to float32). Tests build batches from one.
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
  /** The rows of `images`, in memory or on disk (gradient replicas get batches, not this). */
  features: FeatureStore;
  /** How the store was chosen, for the log (`train --feature-store`). */
  featureStoreWhy: string;
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

export interface LoadOptions {
  /** What the decoder takes, pooled vectors [D] or spatial features [regions, channels]. */
  layout: 'pooled' | 'spatial';
  /** Precision of the rows (default 'auto', see resolveFeaturesDtype). */
  dtype?: FeaturesDtype;
  /** Where the rows are read from (default 'auto', see resolveFeatureStore). */
  store?: FeatureStoreChoice;
  /** auto's memory budget for the rows (default: defaultFeatureMemoryBytes). */
  memoryBudgetBytes?: number;
  /** Elements per typed array of the memory store (tests make it small). */
  chunkElements?: number;
  /** What readPreparedRun returned, when the caller read it already. */
  prepared?: PreparedRun;
}

/** What prepare wrote that decides a model's sizes: read and checked before anything large is loaded. */
export interface PreparedRun {
  prepare: PrepareRecord & { features: NonNullable<PrepareRecord['features']> };
  encoder: EncoderIdentity;
  vocab: VocabularyFile;
}

/**
 * prepare.json and vocab.json, checked against the layout the decoder takes: pooled vectors [D] or
 * spatial features [regions, channels].
 */
export async function readPreparedRun(runDir: string, layout: 'pooled' | 'spatial'): Promise<PreparedRun> {
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
  if (spatial !== (layout === 'spatial')) {
    const shape = `[${encoder.featureShape.join(', ')}]`;
    throw new CapgenError(
      'MISMATCH',
      layout === 'pooled'
        ? `this decoder needs pooled feature vectors, but the features are ${shape}`
        : `this decoder attends over image regions, but the features are pooled vectors ${shape}`,
      {
        file: prepareFile,
        hint:
          layout === 'pooled'
            ? 'prepare with --pooling avg, or train --decoder attention|transformer'
            : 'prepare with --pooling none, or train --decoder merge',
      },
    );
  }
  const vocab = await readJson<VocabularyFile>(runPath(runDir, 'vocab'), 'vocab.json');
  Vocabulary.fromFile(vocab, runPath(runDir, 'vocab')); // checked: reserved ids in place, and words to learn
  return { prepare: prepare as PreparedRun['prepare'], encoder, vocab };
}

/** Images whose features training holds (train + dev), as prepare counted them; undefined when it did not. */
export function heldImageCount(prepare: PrepareRecord): number | undefined {
  const split = (prepare.stats as { splitImages?: Partial<Record<SplitName, unknown>> }).splitImages;
  const train = split?.train;
  const dev = split?.dev ?? 0;
  return typeof train === 'number' && typeof dev === 'number' ? train + dev : undefined;
}

export async function loadTrainingData(
  runDir: string,
  openFeatures: OpenFeatures,
  opts: LoadOptions = { layout: 'pooled' },
): Promise<TrainingData> {
  const { prepare, encoder, vocab } = opts.prepared ?? (await readPreparedRun(runDir, opts.layout));
  const index = new Map(vocab.tokens.map((t, i) => [t, i] as const));
  const captions = await readCaptions(runPath(runDir, 'captions'));
  // An absolute dir (a cache kept outside the run) stays as it is; a relative one is under the run.
  const cacheDir = path.resolve(runDir, prepare.features.dir);
  const source = await openFeatures(cacheDir, encoder);
  const featureSize = source.dim;

  const wanted = [...new Set(captions.filter((c) => c.split !== 'test').map((c) => c.image))];
  const dtype = resolveFeaturesDtype(opts.dtype ?? 'auto', encoder.featureShape);
  const rowFile = source.rowFile;
  const store = resolveFeatureStore(opts.store ?? 'auto', {
    matrixBytes: wanted.length * featureSize * (dtype === 'float16' ? 2 : 4),
    budgetBytes: opts.memoryBudgetBytes ?? defaultFeatureMemoryBytes(),
    budgetGiven: opts.memoryBudgetBytes !== undefined,
    canReadRows: rowFile !== undefined,
  });
  // Training rows in the order of `wanted`, skipping images without a feature: the same rows in both stores.
  const imageRows = new Map<string, number>();
  let features: FeatureStore;
  if (store.kind === 'disk' && rowFile) {
    const stored: number[] = [];
    for (const image of wanted) {
      const row = rowFile.rowOf(image);
      if (row === undefined) continue;
      imageRows.set(image, stored.length);
      stored.push(row);
    }
    features = new DiskFeatureStore(rowFile, Int32Array.from(stored), featureSize, dtype);
  } else {
    const memory = new MemoryFeatureStore(featureSize, dtype, { chunkElements: opts.chunkElements });
    for (const image of wanted) {
      const vec = source.get(image);
      if (!vec) continue;
      if (vec.length !== featureSize)
        throw new CapgenError('BAD_INPUT', `feature of ${image} has ${vec.length} values, expected ${featureSize}`, {
          file: cacheDir,
        });
      imageRows.set(image, memory.push(vec));
    }
    memory.trim();
    source.close?.();
    features = memory;
  }
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
  try {
    checkFeatureCoverage(coverage, { cacheDir, command: 'train' });
    if (bySplit.train.length === 0)
      throw new CapgenError('BAD_INPUT', 'no training captions with features', { file: runPath(runDir, 'captions') });
  } catch (e) {
    await features.close();
    throw e;
  }
  if (missingFeatures) warn(`${missingFeatures} captions left out: their images have no cached feature`);
  return {
    prepare,
    encoder,
    vocab,
    featureSize,
    features,
    featureStoreWhy: store.why,
    images: [...imageRows.keys()],
    train: bySplit.train,
    dev: bySplit.dev,
    trainImages: [...splitImages.train],
    missingFeatures,
  };
}
