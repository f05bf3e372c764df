// The feature cache: one folder per encoder identity holding `vectors.bin` (rows of float32 or
// float16) and `index.jsonl` (one line per committed batch). Append-only, so memory stays flat and
// a run killed at any moment resumes: a batch counts only once its index line is whole.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CapgenError } from '../errors.js';
import { writeJsonAtomic } from '../io/atomic.js';
import type { EncoderIdentity } from '../run/formats.js';
import { float16ToFloat32, float32ToFloat16 } from './float16.js';

export const CACHE_FILES = { meta: 'cache.json', vectors: 'vectors.bin', index: 'index.jsonl' } as const;

export interface CacheMeta {
  identity: EncoderIdentity;
  dtype: 'float32' | 'float16';
  /** Flattened length of one feature (product of identity.featureShape). */
  dim: number;
}

/** One line of index.jsonl: the rows [firstRow, firstRow + names.length) and a hash of their bytes. */
interface BatchLine {
  firstRow: number;
  names: string[];
  sha256: string;
}

export interface FeatureCache {
  identity: EncoderIdentity;
  dtype: 'float32' | 'float16';
  /** Flattened length of one feature vector. */
  dim: number;
  names(): string[];
  has(name: string): boolean;
  /** The feature of one image, flattened (reshape with identity.featureShape). */
  get(name: string): Float32Array | undefined;
  close(): void;
}

/** Folder name for an identity: the same encoder and settings always map to the same cache. */
export function cacheKey(identity: EncoderIdentity, dtype: 'float32' | 'float16'): string {
  const { source: _informational, ...rest } = identity;
  const canonical = JSON.stringify(Object.fromEntries(Object.entries({ ...rest, dtype }).sort(([a], [b]) => a.localeCompare(b))));
  return `${identity.architecture}-${createHash('sha256').update(canonical).digest('hex').slice(0, 12)}`;
}

const bytesPer = (dtype: CacheMeta['dtype']) => (dtype === 'float16' ? 2 : 4);

interface Recovered {
  meta: CacheMeta;
  rows: Map<string, number>;
  rowCount: number;
}

/**
 * Reads the index, drops a torn last line and any batch whose bytes are incomplete or do not match
 * their hash, and truncates both files to what is committed. Safe to call on a cache being opened
 * for writing after a crash.
 */
async function recover(dir: string, repair: boolean): Promise<Recovered> {
  const metaPath = path.join(dir, CACHE_FILES.meta);
  if (!existsSync(metaPath)) throw new CapgenError('NOT_FOUND', 'no feature cache here', { file: metaPath, hint: 'run `capgen prepare` to compute image features' });
  const meta = JSON.parse(await fs.readFile(metaPath, 'utf8')) as CacheMeta;
  const rowBytes = meta.dim * bytesPer(meta.dtype);
  const vectorsPath = path.join(dir, CACHE_FILES.vectors);
  const indexPath = path.join(dir, CACHE_FILES.index);
  const indexText = existsSync(indexPath) ? await fs.readFile(indexPath, 'utf8') : '';
  const vectorBytes = existsSync(vectorsPath) ? (await fs.stat(vectorsPath)).size : 0;
  const lines = indexText.split('\n');
  const batches: BatchLine[] = [];
  let indexBytes = 0;
  // Only lines ending in '\n' are complete; the last element after split is the (possibly torn) tail.
  for (const line of lines.slice(0, -1)) {
    let batch: BatchLine;
    try {
      batch = JSON.parse(line) as BatchLine;
    } catch {
      break;
    }
    const expectedFirst = batches.length ? batches[batches.length - 1].firstRow + batches[batches.length - 1].names.length : 0;
    if (batch.firstRow !== expectedFirst || (batch.firstRow + batch.names.length) * rowBytes > vectorBytes) break;
    batches.push(batch);
    indexBytes += Buffer.byteLength(line) + 1;
  }
  // The last batch is the only one a crash can tear: check its bytes against its hash.
  const last = batches[batches.length - 1];
  if (last) {
    const bytes = Buffer.alloc(last.names.length * rowBytes);
    const fd = openSync(vectorsPath, 'r');
    try {
      readSync(fd, bytes, 0, bytes.length, last.firstRow * rowBytes);
    } finally {
      closeSync(fd);
    }
    if (createHash('sha256').update(bytes).digest('hex') !== last.sha256) {
      batches.pop();
      indexBytes -= Buffer.byteLength(JSON.stringify(last)) + 1;
    }
  }
  const rowCount = batches.length ? batches[batches.length - 1].firstRow + batches[batches.length - 1].names.length : 0;
  if (repair) {
    if (indexBytes !== Buffer.byteLength(indexText) && existsSync(indexPath)) await fs.truncate(indexPath, indexBytes);
    if (vectorBytes !== rowCount * rowBytes && existsSync(vectorsPath)) await fs.truncate(vectorsPath, rowCount * rowBytes);
  }
  const rows = new Map<string, number>();
  for (const b of batches) b.names.forEach((name, i) => rows.set(name, b.firstRow + i));
  return { meta, rows, rowCount };
}

export async function openFeatureCache(dir: string): Promise<FeatureCache> {
  const { meta, rows } = await recover(dir, false);
  const rowBytes = meta.dim * bytesPer(meta.dtype);
  let fd: number | undefined;
  return {
    identity: meta.identity,
    dtype: meta.dtype,
    dim: meta.dim,
    names: () => [...rows.keys()],
    has: (name) => rows.has(name),
    get(name) {
      const row = rows.get(name);
      if (row === undefined) return undefined;
      fd ??= openSync(path.join(dir, CACHE_FILES.vectors), 'r');
      const bytes = Buffer.alloc(rowBytes);
      readSync(fd, bytes, 0, rowBytes, row * rowBytes);
      if (meta.dtype === 'float16') return float16ToFloat32(new Uint16Array(bytes.buffer, bytes.byteOffset, meta.dim));
      return new Float32Array(bytes.buffer, bytes.byteOffset, meta.dim);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

export interface CacheWriter {
  /** Names already committed (skip them). */
  has(name: string): boolean;
  readonly rowCount: number;
  /** Appends one batch: rows of `dim` floats each, [names.length * dim]. Durable when it resolves. */
  append(names: string[], features: Float32Array): Promise<void>;
  close(): Promise<void>;
}

/** Opens (creating or repairing) the cache for writing. Refuses a folder made for another identity. */
export async function openCacheWriter(dir: string, meta: CacheMeta): Promise<CacheWriter> {
  const metaPath = path.join(dir, CACHE_FILES.meta);
  if (existsSync(metaPath)) {
    const existing = JSON.parse(readFileSync(metaPath, 'utf8')) as CacheMeta;
    if (cacheKey(existing.identity, existing.dtype) !== cacheKey(meta.identity, meta.dtype) || existing.dim !== meta.dim) {
      throw new CapgenError('MISMATCH', 'this feature cache was made by a different encoder', { file: metaPath, hint: 'delete the folder or use another run folder' });
    }
  } else {
    await writeJsonAtomic(metaPath, meta);
  }
  const state = await recover(dir, true);
  const vectors = await fs.open(path.join(dir, CACHE_FILES.vectors), 'a');
  const index = await fs.open(path.join(dir, CACHE_FILES.index), 'a');
  let rowCount = state.rowCount;
  return {
    has: (name) => state.rows.has(name),
    get rowCount() {
      return rowCount;
    },
    async append(names, features) {
      if (features.length !== names.length * meta.dim) throw new Error(`append: ${features.length} values for ${names.length} rows of ${meta.dim}`);
      const data = meta.dtype === 'float16' ? float32ToFloat16(features) : features;
      const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      // Vectors first and durable, then the index line that commits them.
      await vectors.write(bytes);
      await vectors.sync();
      const line: BatchLine = { firstRow: rowCount, names, sha256: createHash('sha256').update(bytes).digest('hex') };
      await index.write(`${JSON.stringify(line)}\n`);
      await index.sync();
      names.forEach((name, i) => state.rows.set(name, rowCount + i));
      rowCount += names.length;
    },
    async close() {
      await vectors.close();
      await index.close();
    },
  };
}
