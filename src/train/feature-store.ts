// Where training reads image features from (`train --feature-store`): all rows in memory, or each
// batch's rows read from the feature cache on disk with read-ahead. Both give a batch the very same
// float32 values (float16 rows widen through one table), so they train bit-identical models; the
// choice changes only memory and speed.
import os from 'node:os';
import { CapgenError } from '../errors.js';
import { float16ToFloat32, float32ToFloat16 } from '../features/float16.js';

/** `train --feature-store`: memory, disk, or auto (memory when the rows fit the memory budget). */
export type FeatureStoreChoice = 'auto' | 'memory' | 'disk';
export const FEATURE_STORE_CHOICES: FeatureStoreChoice[] = ['auto', 'memory', 'disk'];

/**
 * auto's budget when --feature-memory-mb is not given: a quarter of the machine's memory. The rest is
 * for the decoder's own working memory (ONNX Runtime's arenas, gradient replicas), other processes and
 * the page cache, which is what keeps `disk` as fast as `memory` when the cache file fits in it.
 */
export function defaultFeatureMemoryBytes(): number {
  return Math.floor(os.totalmem() / 4);
}

/**
 * Elements per typed array of the memory store: one array per block of rows, far below the 2^31
 * elements (2^32 on Node 20, less on older engines) that one typed array may hold, and small enough
 * that no single allocation needs a huge contiguous block.
 */
export const MEMORY_CHUNK_ELEMENTS = 2 ** 27;

/**
 * Batches read ahead by the disk store: the next two batches are read while one trains, so one slow
 * read (a cold page) does not stall the next step; each costs batch x row bytes (~13 MB for 128 rows
 * of 7x7x1024 float16).
 */
export const READ_AHEAD_BATCHES = 2;

/** Rows of the training images by training row (the imageRow of an Example). */
export interface FeatureRowReader {
  /** Writes the feature of training row `row`, as float32, into out at `offset`. */
  copyRow(row: number, out: Float32Array, offset: number): void;
}

/** A store also copies single rows (disk: one blocking read each; batches use rows()). */
export interface FeatureStore extends FeatureRowReader {
  readonly kind: 'memory' | 'disk';
  /** Flattened length of one feature. */
  readonly featureSize: number;
  /** Training rows (images with a feature). */
  readonly rowCount: number;
  /** Precision of the rows (float16 rows are widened to float32 in each batch). */
  readonly dtype: 'float32' | 'float16';
  /** The rows of one batch, ready to copy from (memory: at once; disk: read, or already read ahead). */
  rows(rows: readonly number[]): Promise<FeatureRowReader>;
  /** Starts reading these rows now, for a later rows() with the same list (memory: nothing to do). */
  readAhead(rows: readonly number[]): void;
  close(): Promise<void>;
}

/** float16 bits -> float32, all 65536 of them (256 KB, made on first use): rows widen by lookup. */
let halfTable: Float32Array | undefined;
const widenTable = () => (halfTable ??= float16ToFloat32(Uint16Array.from({ length: 65536 }, (_, i) => i)));

/** Copies float16 bits (or float32 values) into out at offset, as float32. */
function widenInto(values: Uint16Array | Float32Array, out: Float32Array, offset: number): void {
  if (values instanceof Float32Array) {
    out.set(values, offset);
    return;
  }
  const table = widenTable();
  for (let j = 0; j < values.length; j++) out[offset + j] = table[values[j]];
}

/** A reader over one row-major matrix [rows, featureSize] of float32, or float16 bits. */
export function matrixReader(matrix: Float32Array | Uint16Array, featureSize: number): FeatureRowReader {
  return {
    copyRow(row, out, offset) {
      widenInto(matrix.subarray(row * featureSize, (row + 1) * featureSize), out, offset);
    },
  };
}

/** The memory store: rows in blocks of typed arrays (none past MEMORY_CHUNK_ELEMENTS), filled in order. */
export class MemoryFeatureStore implements FeatureStore {
  readonly kind = 'memory';
  private readonly chunks: (Float32Array | Uint16Array)[] = [];
  private readonly rowsPerChunk: number;
  private count = 0;

  constructor(
    readonly featureSize: number,
    readonly dtype: 'float32' | 'float16',
    opts: { chunkElements?: number } = {},
  ) {
    this.rowsPerChunk = Math.max(1, Math.floor((opts.chunkElements ?? MEMORY_CHUNK_ELEMENTS) / featureSize));
  }

  /** A store over one whole matrix [rows, featureSize] (tests and benchmarks build their data so). */
  static fromMatrix(matrix: Float32Array | Uint16Array, featureSize: number): MemoryFeatureStore {
    const dtype = matrix instanceof Uint16Array ? 'float16' : 'float32';
    const store = new MemoryFeatureStore(featureSize, dtype, { chunkElements: Math.max(matrix.length, featureSize) });
    store.chunks.push(matrix);
    store.count = matrix.length / featureSize;
    return store;
  }

  get rowCount(): number {
    return this.count;
  }

  /** Bytes held by the rows. */
  get byteLength(): number {
    return this.chunks.reduce((a, c) => a + c.byteLength, 0);
  }

  /** Appends one row (rounded to float16 when the store holds float16); returns its row number. */
  push(values: Float32Array): number {
    const row = this.count;
    const k = Math.floor(row / this.rowsPerChunk);
    if (k === this.chunks.length) {
      const size = this.rowsPerChunk * this.featureSize;
      this.chunks.push(this.dtype === 'float16' ? new Uint16Array(size) : new Float32Array(size));
    }
    const chunk = this.chunks[k];
    chunk.set(chunk instanceof Uint16Array ? float32ToFloat16(values) : values, (row % this.rowsPerChunk) * this.featureSize);
    this.count++;
    return row;
  }

  /** Gives back the unused end of the last block (allocated for rows whose images had no feature). */
  trim(): void {
    const last = this.chunks.length - 1;
    if (last < 0) return;
    const used = (this.count - last * this.rowsPerChunk) * this.featureSize;
    if (used < this.chunks[last].length) this.chunks[last] = this.chunks[last].slice(0, used);
  }

  copyRow(row: number, out: Float32Array, offset: number): void {
    const chunk = this.chunks[Math.floor(row / this.rowsPerChunk)];
    const start = (row % this.rowsPerChunk) * this.featureSize;
    widenInto(chunk.subarray(start, start + this.featureSize), out, offset);
  }

  rows(): Promise<FeatureRowReader> {
    return Promise.resolve(this);
  }

  readAhead(): void {}

  async close(): Promise<void> {}
}

/** What the disk store reads: stored rows by position (src/features/cache.ts FeatureRowFile). */
export interface StoredRows {
  /** How the rows are stored. */
  readonly dtype: 'float32' | 'float16';
  readonly rowBytes: number;
  /** Reads the stored rows `rows` into `into`, row i at i x rowBytes. */
  readRows(rows: readonly number[], into: Uint8Array): Promise<void>;
  readRowsSync(rows: readonly number[], into: Uint8Array): void;
  close?(): void;
}

/**
 * The disk store: per batch, its distinct rows are read from the cache file by position (in parallel
 * on libuv's thread pool) into one buffer; readAhead starts the reads of the next batches while this
 * one trains. Memory: the training row -> stored row map (4 bytes per image) and the buffers of the
 * batches in flight.
 */
export class DiskFeatureStore implements FeatureStore {
  readonly kind = 'disk';
  private readonly pending = new Map<string, Promise<FeatureRowReader>>();

  constructor(
    private readonly file: StoredRows,
    /** Stored row of each training row. */
    private readonly storedRows: Int32Array,
    readonly featureSize: number,
    /** Precision training holds the rows in (rows stored as float32 are rounded to float16 when it is float16). */
    readonly dtype: 'float32' | 'float16',
  ) {
    if (file.rowBytes !== featureSize * (file.dtype === 'float16' ? 2 : 4))
      throw new Error(`disk store: rows of ${file.rowBytes} bytes do not hold ${featureSize} ${file.dtype} values`);
  }

  get rowCount(): number {
    return this.storedRows.length;
  }

  rows(rows: readonly number[]): Promise<FeatureRowReader> {
    const key = rows.join(',');
    const ahead = this.pending.get(key);
    if (ahead) {
      this.pending.delete(key);
      return ahead;
    }
    return this.read(rows);
  }

  readAhead(rows: readonly number[]): void {
    const key = rows.join(',');
    if (this.pending.has(key)) return;
    const reading = this.read(rows);
    reading.catch(() => undefined); // reported by the rows() that takes it
    this.pending.set(key, reading);
    // Batches read ahead but never asked for (a stop mid-epoch) are dropped, oldest first.
    while (this.pending.size > 2 * READ_AHEAD_BATCHES + 2) this.pending.delete(this.pending.keys().next().value as string);
  }

  copyRow(row: number, out: Float32Array, offset: number): void {
    const { slotOf, stored, block } = this.plan([row]);
    this.file.readRowsSync(stored, block);
    this.reader(slotOf, block).copyRow(row, out, offset);
  }

  /** Distinct rows of a batch, their slots in one block, and the block (a fresh ArrayBuffer: aligned views). */
  private plan(rows: readonly number[]): { slotOf: Map<number, number>; stored: number[]; block: Uint8Array } {
    const slotOf = new Map<number, number>();
    const stored: number[] = [];
    for (const row of rows) {
      if (slotOf.has(row)) continue;
      if (!(row >= 0 && row < this.storedRows.length)) throw new RangeError(`disk store: no training row ${row}`);
      slotOf.set(row, stored.length);
      stored.push(this.storedRows[row]);
    }
    return { slotOf, stored, block: new Uint8Array(stored.length * this.file.rowBytes) };
  }

  private async read(rows: readonly number[]): Promise<FeatureRowReader> {
    const { slotOf, stored, block } = this.plan(rows);
    await this.file.readRows(stored, block);
    return this.reader(slotOf, block);
  }

  private reader(slotOf: Map<number, number>, block: Uint8Array): FeatureRowReader {
    const rowBytes = this.file.rowBytes;
    const size = this.featureSize;
    const storedHalf = this.file.dtype === 'float16';
    const roundToHalf = !storedHalf && this.dtype === 'float16';
    return {
      copyRow(row, out, offset) {
        const slot = slotOf.get(row);
        if (slot === undefined) throw new RangeError(`disk store: row ${row} is not in this batch`);
        const at = slot * rowBytes;
        const values = storedHalf ? new Uint16Array(block.buffer, at, size) : new Float32Array(block.buffer, at, size);
        // As the memory store holds them: float32 rows rounded to float16 bits first when it holds float16.
        widenInto(roundToHalf ? float32ToFloat16(values as Float32Array) : values, out, offset);
      },
    };
  }

  async close(): Promise<void> {
    const inFlight = [...this.pending.values()];
    this.pending.clear();
    await Promise.allSettled(inFlight);
    this.file.close?.();
  }
}

/**
 * auto: memory when the rows fit the budget, disk otherwise; memory and disk as asked. Returns the
 * choice and one line saying why, for the numbers printed at the start of training.
 */
export function resolveFeatureStore(
  choice: FeatureStoreChoice,
  opts: { matrixBytes: number; budgetBytes: number; budgetGiven: boolean; canReadRows: boolean },
): { kind: 'memory' | 'disk'; why: string } {
  const size = formatBytes(opts.matrixBytes);
  if (choice === 'disk') {
    if (!opts.canReadRows)
      throw new CapgenError('USAGE', '--feature-store disk needs the feature cache written by `capgen prepare`', {
        hint: 'use --feature-store memory',
      });
    return { kind: 'disk', why: `asked for; ${size} stay on disk` };
  }
  if (choice === 'memory') return { kind: 'memory', why: `asked for; ${size} in memory` };
  const budget = `${formatBytes(opts.budgetBytes)} (${opts.budgetGiven ? '--feature-memory-mb' : 'a quarter of RAM; set --feature-memory-mb'})`;
  if (opts.matrixBytes <= opts.budgetBytes || !opts.canReadRows) return { kind: 'memory', why: `${size} fit the budget of ${budget}` };
  return { kind: 'disk', why: `${size} exceed the budget of ${budget}` };
}

function formatBytes(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** The training rows of a batch's captions (picks index `examples`). */
export function batchRows(examples: readonly { imageRow: number }[], picks: readonly number[]): number[] {
  return picks.map((p) => examples[p].imageRow);
}

/** Starts reading the rows of the batches after `index` of the plan (READ_AHEAD_BATCHES of them). */
export function readAheadAfter(
  store: FeatureStore,
  examples: readonly { imageRow: number }[],
  plan: readonly (readonly number[])[],
  index: number,
): void {
  for (let k = index + 1; k <= index + READ_AHEAD_BATCHES && k < plan.length; k++) store.readAhead(batchRows(examples, plan[k]));
}
