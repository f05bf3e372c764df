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

/**
 * One line of index.jsonl: the rows [firstRow, firstRow + names.length), a hash of their bytes and,
 * per image, a hash of the image file's bytes (so a changed image is recomputed, a renamed copy reused).
 */
interface BatchLine {
  firstRow: number;
  names: string[];
  sha256: string;
  /** contentHash() of each image file; absent in caches written before content keys. */
  contents?: string[];
}

/** What identifies an image's content: the first 128 bits of the SHA-256 of the file's bytes. */
export function contentHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 32);
}

export interface FeatureCache {
  identity: EncoderIdentity;
  dtype: 'float32' | 'float16';
  /** Flattened length of one feature vector. */
  dim: number;
  names(): string[];
  has(name: string): boolean;
  /** Images whose committed vectors failed their hash check (or were cut off): left out of names(). */
  readonly damaged: number;
  /** The feature of one image, flattened (reshape with identity.featureShape). */
  get(name: string): Float32Array | undefined;
  close(): void;
}

/** Folder name for an identity: the same encoder and settings always map to the same cache. */
export function cacheKey(identity: EncoderIdentity, dtype: 'float32' | 'float16'): string {
  const { source: _informational, sourceInRun: _alsoInformational, ...rest } = identity;
  const canonical = JSON.stringify(Object.fromEntries(Object.entries({ ...rest, dtype }).sort(([a], [b]) => a.localeCompare(b))));
  return `${identity.architecture}-${createHash('sha256').update(canonical).digest('hex').slice(0, 12)}`;
}

const bytesPer = (dtype: CacheMeta['dtype']) => (dtype === 'float16' ? 2 : 4);

interface Recovered {
  meta: CacheMeta;
  /** Image name -> row; a later batch with the same name wins (the image changed and was recomputed). */
  rows: Map<string, number>;
  /** Content hash -> a row holding it (to reuse it for a renamed copy). */
  byContent: Map<string, number>;
  /** Image name -> content hash of its row; absent for rows from before content keys. */
  contentOf: Map<string, string>;
  /** Rows kept: the end of the last good batch when repairing, else of the last parsed batch. */
  rowCount: number;
  /** Images left out because their batch is damaged (bytes missing or not matching the hash). */
  damaged: number;
}

function readBytes(fd: number, offset: number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, bytes, done, length - done, offset + done);
    if (n === 0) break;
    done += n;
  }
  return bytes.subarray(0, done);
}

/**
 * Reads the index and checks every committed batch's bytes against its hash. Reading (repair false),
 * a damaged batch is left out and counted; repairing (prepare, before it appends), the cache is cut
 * back to just before the first damaged batch or torn line, so prepare recomputes everything after it.
 */
async function recover(dir: string, repair: boolean): Promise<Recovered> {
  const metaPath = path.join(dir, CACHE_FILES.meta);
  if (!existsSync(metaPath))
    throw new CapgenError('NOT_FOUND', 'no feature cache here', { file: metaPath, hint: 'run `capgen prepare` to compute image features' });
  let meta: CacheMeta;
  try {
    meta = JSON.parse(await fs.readFile(metaPath, 'utf8')) as CacheMeta;
  } catch {
    throw new CapgenError('BAD_INPUT', 'the feature cache description is not valid JSON', {
      file: metaPath,
      hint: 'delete the features folder and rerun `capgen prepare`',
    });
  }
  const rowBytes = meta.dim * bytesPer(meta.dtype);
  const vectorsPath = path.join(dir, CACHE_FILES.vectors);
  const indexPath = path.join(dir, CACHE_FILES.index);
  const indexText = existsSync(indexPath) ? await fs.readFile(indexPath, 'utf8') : '';
  const vectorBytes = existsSync(vectorsPath) ? (await fs.stat(vectorsPath)).size : 0;
  const good: BatchLine[] = [];
  const batches: { batch: BatchLine; intact: boolean }[] = [];
  let damaged = 0;
  let goodPrefixBytes = 0; // index bytes up to the first torn or damaged line
  let prefixIntact = true;
  let indexBytes = 0;
  let expectedFirst = 0;
  const fd = vectorBytes > 0 ? openSync(vectorsPath, 'r') : undefined;
  try {
    // Only lines ending in '\n' are complete; the last element after split is the (possibly torn) tail.
    for (const line of indexText.split('\n').slice(0, -1)) {
      indexBytes += Buffer.byteLength(line) + 1;
      let batch: BatchLine;
      try {
        batch = JSON.parse(line) as BatchLine;
      } catch {
        break; // a torn line can only be the last one written
      }
      if (batch.firstRow !== expectedFirst || !Array.isArray(batch.names)) break;
      expectedFirst = batch.firstRow + batch.names.length;
      const start = batch.firstRow * rowBytes;
      const length = batch.names.length * rowBytes;
      const intact =
        fd !== undefined &&
        start + length <= vectorBytes &&
        createHash('sha256')
          .update(readBytes(fd, start, length))
          .digest('hex') === batch.sha256;
      batches.push({ batch, intact });
      if (intact) good.push(batch);
      else damaged += batch.names.length;
      if (!intact) prefixIntact = false;
      if (prefixIntact) goodPrefixBytes = indexBytes;
      if (!intact && repair) break;
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const lastGood = good[good.length - 1];
  const rowCount = lastGood ? lastGood.firstRow + lastGood.names.length : 0;
  if (repair) {
    if (goodPrefixBytes !== Buffer.byteLength(indexText) && existsSync(indexPath)) await fs.truncate(indexPath, goodPrefixBytes);
    if (vectorBytes !== rowCount * rowBytes && existsSync(vectorsPath)) await fs.truncate(vectorsPath, rowCount * rowBytes);
  }
  const rows = new Map<string, number>();
  const byContent = new Map<string, number>();
  const contentOf = new Map<string, string>();
  for (const { batch: b, intact } of batches) {
    if (!intact) {
      // The newest vector of these images is lost: an older row of the same name is stale, not a fallback.
      for (const name of b.names) {
        rows.delete(name);
        contentOf.delete(name);
      }
      continue;
    }
    b.names.forEach((name, i) => {
      rows.set(name, b.firstRow + i);
      const content = b.contents?.[i];
      if (content) {
        byContent.set(content, b.firstRow + i);
        contentOf.set(name, content);
      } else contentOf.delete(name);
    });
  }
  return { meta, rows, byContent, contentOf, rowCount, damaged };
}

export async function openFeatureCache(dir: string): Promise<FeatureCache> {
  const { meta, rows, damaged } = await recover(dir, false);
  const rowBytes = meta.dim * bytesPer(meta.dtype);
  let fd: number | undefined;
  return {
    damaged,
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

/** Read access to a cache that another process may be appending to (it sees the committed batches). */
export interface CacheReader {
  dtype: CacheMeta['dtype'];
  dim: number;
  /** Committed under this name, with this content. */
  has(name: string, content: string): boolean;
  /** Whether some committed row holds this content (under any name). */
  hasContent(content: string): boolean;
  /** The stored bytes of this image's row when its content matches, else undefined. */
  rowBytes(name: string, content: string): Buffer | undefined;
  close(): void;
}

/** Opens the cache in `dir` for reading without repairing it, or undefined when there is none. */
export async function openCacheReader(dir: string): Promise<CacheReader | undefined> {
  if (!existsSync(path.join(dir, CACHE_FILES.meta))) return undefined;
  const { meta, rows, byContent, contentOf } = await recover(dir, false);
  const rowBytes = meta.dim * bytesPer(meta.dtype);
  let fd: number | undefined;
  const has = (name: string, content: string) => rows.has(name) && contentOf.get(name) === content;
  return {
    dtype: meta.dtype,
    dim: meta.dim,
    has,
    hasContent: (content) => byContent.has(content),
    rowBytes(name, content) {
      if (!has(name, content)) return undefined;
      fd ??= openSync(path.join(dir, CACHE_FILES.vectors), 'r');
      return readBytes(fd, (rows.get(name) as number) * rowBytes, rowBytes);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

/** Rows of float32 values as the cache stores them (float16 halves them). */
export function encodeRows(features: Float32Array, dtype: CacheMeta['dtype']): Buffer {
  const data = dtype === 'float16' ? float32ToFloat16(features) : features;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export interface CacheWriter {
  /** Committed under this name (and, when `content` is given, with this content: a changed image is not). */
  has(name: string, content?: string): boolean;
  /** A committed row holding this content (under any name), to copy for a renamed image. */
  rowWithContent(content: string): number | undefined;
  readonly rowCount: number;
  /** Images dropped when the cache was opened because their batch was damaged (prepare recomputes them). */
  readonly repaired: number;
  /** Appends one batch: rows of `dim` floats each, [names.length * dim]. Durable when it resolves. */
  append(names: string[], features: Float32Array, contents?: string[]): Promise<void>;
  /** Appends one batch of rows already encoded as the cache stores them (encodeRows, or another cache's rowBytes). */
  appendEncoded(names: string[], bytes: Buffer, contents: string[]): Promise<void>;
  /** Appends copies of committed rows under new names (renamed images: no encoder run). */
  copyRows(names: string[], sourceRows: number[], contents: string[]): Promise<void>;
  close(): Promise<void>;
}

/** Opens (creating or repairing) the cache for writing. Refuses a folder made for another identity. */
export async function openCacheWriter(dir: string, meta: CacheMeta): Promise<CacheWriter> {
  const metaPath = path.join(dir, CACHE_FILES.meta);
  if (existsSync(metaPath)) {
    const existing = JSON.parse(readFileSync(metaPath, 'utf8')) as CacheMeta;
    if (cacheKey(existing.identity, existing.dtype) !== cacheKey(meta.identity, meta.dtype) || existing.dim !== meta.dim) {
      throw new CapgenError('MISMATCH', 'this feature cache was made by a different encoder', {
        file: metaPath,
        hint: 'delete the folder or use another run folder',
      });
    }
  } else {
    await writeJsonAtomic(metaPath, meta);
  }
  const state = await recover(dir, true);
  const rowBytes = meta.dim * bytesPer(meta.dtype);
  const vectorsPath = path.join(dir, CACHE_FILES.vectors);
  const indexPath = path.join(dir, CACHE_FILES.index);
  const vectors = await fs.open(vectorsPath, 'a');
  const index = await fs.open(indexPath, 'a');
  let rowCount = state.rowCount;
  let indexSize = existsSync(indexPath) ? (await fs.stat(indexPath)).size : 0;
  const commit = async (names: string[], bytes: Buffer, contents?: string[]) => {
    let writing = vectorsPath;
    try {
      // Vectors first and durable, then the index line that commits them.
      await vectors.write(bytes);
      await vectors.sync();
      writing = indexPath;
      const line: BatchLine = {
        firstRow: rowCount,
        names,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        ...(contents ? { contents } : {}),
      };
      const text = `${JSON.stringify(line)}\n`;
      await index.write(text);
      await index.sync();
      indexSize += Buffer.byteLength(text);
    } catch (e) {
      // FileHandle errors carry no path: name the cache's files for the message.
      const err = e as NodeJS.ErrnoException;
      err.path ??= writing;
      // A full disk mid-batch: cut both files back to what is committed (best effort: the next
      // open repairs whatever is left).
      await fs.truncate(vectorsPath, rowCount * rowBytes).catch(() => undefined);
      await fs.truncate(indexPath, indexSize).catch(() => undefined);
      throw e;
    }
    names.forEach((name, i) => {
      state.rows.set(name, rowCount + i);
      const content = contents?.[i];
      if (content) {
        state.byContent.set(content, rowCount + i);
        state.contentOf.set(name, content);
      }
    });
    rowCount += names.length;
  };
  return {
    has: (name, content) => state.rows.has(name) && (content === undefined || state.contentOf.get(name) === content),
    rowWithContent: (content) => state.byContent.get(content),
    get rowCount() {
      return rowCount;
    },
    repaired: state.damaged,
    async append(names, features, contents) {
      if (features.length !== names.length * meta.dim)
        throw new Error(`append: ${features.length} values for ${names.length} rows of ${meta.dim}`);
      await commit(names, encodeRows(features, meta.dtype), contents);
    },
    async appendEncoded(names, bytes, contents) {
      if (bytes.length !== names.length * rowBytes)
        throw new Error(`appendEncoded: ${bytes.length} bytes for ${names.length} rows of ${rowBytes}`);
      await commit(names, bytes, contents);
    },
    async copyRows(names, sourceRows, contents) {
      const bytes = Buffer.alloc(names.length * rowBytes);
      const fd = openSync(vectorsPath, 'r');
      try {
        sourceRows.forEach((row, i) => readBytes(fd, row * rowBytes, rowBytes).copy(bytes, i * rowBytes));
      } finally {
        closeSync(fd);
      }
      await commit(names, bytes, contents);
    },
    async close() {
      await vectors.close();
      await index.close();
    },
  };
}

/**
 * Positional access to a cache's rows, for readers that fetch a few rows at a time (training with
 * `--feature-store disk`): the image -> row map, and reads of raw rows straight from vectors.bin.
 * Opening checks every batch's hash as openFeatureCache does; damaged rows are left out of rowOf.
 */
export interface FeatureRowFile extends FeatureCache {
  /** Bytes of one stored row: dim x 2 (float16) or x 4 (float32). */
  readonly rowBytes: number;
  /** The row of an image in vectors.bin (undefined when not cached or damaged). */
  rowOf(name: string): number | undefined;
  /**
   * Reads the raw stored rows `rows` into `into`, row i at i x rowBytes (float16 bits or float32, as
   * `dtype` says), with positional reads that may run at once on libuv's thread pool.
   */
  readRows(rows: readonly number[], into: Uint8Array): Promise<void>;
  /** readRows, blocking (for a row read on its own, outside the batches). */
  readRowsSync(rows: readonly number[], into: Uint8Array): void;
}

export async function openFeatureRowFile(dir: string): Promise<FeatureRowFile> {
  const { meta, rows, damaged } = await recover(dir, false);
  const rowBytes = meta.dim * bytesPer(meta.dtype);
  const vectorsPath = path.join(dir, CACHE_FILES.vectors);
  let fd: number | undefined;
  let handle: Promise<fs.FileHandle> | undefined;
  const rowOf = (name: string) => rows.get(name);
  const readRow = async (file: fs.FileHandle, row: number, into: Uint8Array, at: number) => {
    let done = 0;
    while (done < rowBytes) {
      const { bytesRead } = await file.read(into, at + done, rowBytes - done, row * rowBytes + done);
      if (bytesRead === 0) throw new CapgenError('BAD_INPUT', `the feature cache ends inside row ${row}`, { file: vectorsPath });
      done += bytesRead;
    }
  };
  return {
    damaged,
    identity: meta.identity,
    dtype: meta.dtype,
    dim: meta.dim,
    rowBytes,
    names: () => [...rows.keys()],
    has: (name) => rows.has(name),
    rowOf,
    get(name) {
      const row = rows.get(name);
      if (row === undefined) return undefined;
      fd ??= openSync(vectorsPath, 'r');
      const bytes = readBytes(fd, row * rowBytes, rowBytes);
      if (meta.dtype === 'float16') return float16ToFloat32(new Uint16Array(bytes.buffer, bytes.byteOffset, meta.dim));
      return new Float32Array(bytes.buffer, bytes.byteOffset, meta.dim);
    },
    async readRows(wanted, into) {
      if (into.length < wanted.length * rowBytes) throw new RangeError(`readRows: ${into.length} bytes for ${wanted.length} rows`);
      handle ??= fs.open(vectorsPath, 'r');
      const file = await handle;
      await Promise.all(wanted.map((row, i) => readRow(file, row, into, i * rowBytes)));
    },
    readRowsSync(wanted, into) {
      fd ??= openSync(vectorsPath, 'r');
      const file = fd;
      wanted.forEach((row, i) => {
        const bytes = readBytes(file, row * rowBytes, rowBytes);
        if (bytes.length < rowBytes) throw new CapgenError('BAD_INPUT', `the feature cache ends inside row ${row}`, { file: vectorsPath });
        into.set(bytes, i * rowBytes);
      });
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      const open = handle;
      handle = undefined;
      void open?.then((f) => f.close()).catch(() => undefined);
    },
  };
}
