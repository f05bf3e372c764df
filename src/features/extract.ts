// `capgen prepare`'s feature step: every image through the encoder once, into the feature cache
// (in the run folder, or in --feature-cache). Decoding of the next batch (sharp, libuv threads)
// overlaps the current forward pass. A shard (--shard I/N) computes only its images, into its own
// sub-cache; a plain run copies the rows shards computed instead of computing them again.
import path from 'node:path';
import type { BackendChoice, BackendInfo } from '../backend/index.js';
import { formatSeconds, info, progressBar } from '../log.js';
import type { EncoderIdentity } from '../run/formats.js';
import { RUN_FILES } from '../run/layout.js';
import { acquireRunLock } from '../run/lock.js';
import { formatShard, shardOwns, type ShardSpec } from '../util/shard.js';
import { cacheKey, contentHash, encodeRows, openCacheReader, openCacheWriter, type CacheWriter } from './cache.js';
import type { FeaturesConfig } from './config.js';
import { decodeFailure, decodeImage } from './image-load.js';
import { fileImageSource, inBatches, type ImageSource, type SourcedImage } from './image-source.js';
import { chooseEngine } from './engine.js';
import { embedPixels } from './load-encoder.js';
import { createEmbedPool, defaultWorkers } from './pool.js';
import {
  checkShardPlan,
  clearShardPlan,
  markShardDone,
  openShardSources,
  removeShardCaches,
  shardCacheDir,
  type ShardSource,
} from './shards.js';
import { throwIfStopRequested } from '../util/signals.js';

export interface ExtractOptions {
  runDir: string;
  /** The images by name; `path` is where each file is, unless `source` gives the bytes. */
  images: { name: string; path?: string }[];
  /** Where the image bytes come from (webdataset tars); default: the files at each image's `path`. */
  source?: ImageSource;
  config: FeaturesConfig;
  /** The backend initBackend() set up (or was asked for); decides the worker count default. */
  backend: BackendChoice | BackendInfo;
  /** The folder holding one cache folder per encoder identity (default: <runDir>/features). */
  cacheRoot?: string;
  /** Compute only this shard's images, into its sub-cache of the cache folder. */
  shard?: ShardSpec;
}

export interface ExtractResult {
  /** The cache folder: relative to runDir (features/<key>) when inside it, else absolute. */
  dir: string;
  encoder: EncoderIdentity;
  dtype: 'float32' | 'float16';
  computed: number;
  /** Already cached, or copied from shard sub-caches. */
  reused: number;
  /** Unreadable images; the caller (prepare) lists them in the run folder's bad-images.txt. */
  bad: { name: string; reason: string }[];
}

interface DecodedBatch {
  names: string[];
  pixels: Uint8Array[];
  bad: { name: string; reason: string }[];
}

async function decodeBatch(batch: SourcedImage[], identity: EncoderIdentity): Promise<DecodedBatch> {
  const settled = await Promise.allSettled(
    batch.map((img) =>
      img.bytes ? decodeImage(img.bytes, { size: identity.inputSize, resize: identity.resize }) : Promise.reject(new Error(img.error)),
    ),
  );
  const out: DecodedBatch = { names: [], pixels: [], bad: [] };
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') {
      out.names.push(batch[i].name);
      out.pixels.push(s.value.pixels);
    } else {
      out.bad.push({ name: batch[i].name, reason: decodeFailure(s.reason) });
    }
  });
  return out;
}

/** contentHash of each readable image (unreadable ones are left out: decoding reports them). */
async function hashImages(source: ImageSource, names: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const img of source.read(names)) if (img.bytes) out.set(img.name, contentHash(img.bytes));
  return out;
}

/** Where prepare.json says the cache is: relative inside the run folder (it moves with it), else absolute. */
function recordedDir(runDir: string, cacheDir: string): string {
  const rel = path.relative(path.resolve(runDir), path.resolve(cacheDir));
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.resolve(cacheDir);
}

export async function extractFeatures(opts: ExtractOptions): Promise<ExtractResult> {
  const { config, shard } = opts;
  const chosen = await chooseEngine(config, config.engine);
  const identity = chosen.encoder.identity;
  const key = cacheKey(identity, config.dtype);
  const cacheDir = path.join(opts.cacheRoot ?? path.join(opts.runDir, RUN_FILES.featuresDir), key);
  if (shard) await checkShardPlan(opts.runDir, { cacheKey: key, architecture: identity.architecture, count: shard.count }, shard);
  // The cache folder may be shared by several runs' prepares: it has its own lock, shard-aware too.
  const lock = acquireRunLock(cacheDir, shard ? `prepare --shard ${formatShard(shard)}` : 'prepare', { shard, what: 'feature cache' });
  try {
    const out = await extractInto({ ...opts, chosen, cacheDir });
    if (!shard) await clearShardPlan(opts.runDir, key);
    return { ...out, dir: recordedDir(opts.runDir, cacheDir) };
  } finally {
    lock.release();
  }
}

async function extractInto(
  opts: ExtractOptions & { chosen: Awaited<ReturnType<typeof chooseEngine>>; cacheDir: string },
): Promise<ExtractResult> {
  const { config, chosen, shard } = opts;
  const started = performance.now();
  const identity = chosen.encoder.identity;
  const dim = identity.featureShape.reduce((a, b) => a * b, 1);
  const meta = { identity, dtype: config.dtype, dim };
  const subDir = shard ? shardCacheDir(opts.cacheDir, shard) : undefined;
  // A shard reads the cache (written only by non-shard runs, which the lock keeps out) and writes its sub-cache.
  const canonical = shard ? await openCacheReader(opts.cacheDir) : undefined;
  const writer: CacheWriter = await openCacheWriter(subDir ?? opts.cacheDir, meta);
  const sources: ShardSource[] = shard ? [] : await openShardSources(opts.cacheDir);
  let unique = [...new Map(opts.images.map((img) => [img.name, img])).values()];
  if (shard) unique = unique.filter((img) => shardOwns(img.name, shard));
  if (writer.repaired)
    info(`features: ${writer.repaired} cached features were damaged (bytes not matching their hash): computing them again`);
  // Keyed on content: a changed image is recomputed, a renamed copy is reused (its row copied).
  const pathOf = new Map(unique.map((img) => [img.name, img.path ?? img.name]));
  const source = opts.source ?? fileImageSource('image files', (name) => pathOf.get(name) ?? name);
  const contents = await hashImages(
    source,
    unique.map((img) => img.name),
  );
  const todo: typeof unique = [];
  const copies: { name: string; row: number; content: string }[] = [];
  for (const img of unique) {
    const content = contents.get(img.name);
    if (content === undefined)
      todo.push(img); // unreadable: the decoder will say why
    else if (writer.has(img.name, content)) continue;
    else if (canonical && (canonical.has(img.name, content) || canonical.hasContent(content)))
      continue; // a shard leaves these to the merge, which copies them
    else {
      const row = writer.rowWithContent(content);
      if (row === undefined) todo.push(img);
      else copies.push({ name: img.name, row, content });
    }
  }
  if (copies.length)
    await writer.copyRows(
      copies.map((c) => c.name),
      copies.map((c) => c.row),
      copies.map((c) => c.content),
    );
  canonical?.close();
  // Rows that shards already computed: copied, not computed (the shard sub-caches of this cache folder).
  const shardRow = (img: { name: string }): Buffer | undefined => {
    const content = contents.get(img.name);
    if (content === undefined) return undefined;
    for (const s of sources) {
      const bytes = s.reader.rowBytes(img.name, content);
      if (bytes) return bytes;
    }
    return undefined;
  };
  const fromShards = sources.length
    ? todo.filter((img) => sources.some((s) => s.reader.has(img.name, contents.get(img.name) ?? ''))).length
    : 0;
  if (sources.length) {
    const unfinished = sources.filter((s) => !s.done).map((s) => s.name);
    info(
      `features: ${fromShards} images from ${sources.length} shard cache${sources.length === 1 ? '' : 's'} (${sources.map((s) => s.name).join(', ')})` +
        (unfinished.length ? `; not finished: ${unfinished.join(', ')}, so their remaining images are computed here` : ''),
    );
  }
  const reused = unique.length - todo.length + fromShards;
  const toEncode = todo.length - fromShards;
  const backendName = typeof opts.backend === 'string' ? opts.backend : opts.backend.name;
  // ONNX Runtime already spreads each batch over every core: one worker (this thread) runs it.
  const wanted = chosen.engine === 'onnx' ? 1 : (config.workers ?? defaultWorkers(backendName));
  const workers = Math.min(wanted, Math.max(1, Math.ceil(toEncode / config.batchSize)));
  info(
    `features: ${identity.architecture} (${identity.layer}, ${identity.preprocess}, ${identity.resize}, pooling ${identity.pooling}) -> [${identity.featureShape}] ` +
      `${config.dtype}; ${toEncode} images to encode, ${reused} already cached${copies.length ? ` (${copies.length} under another name)` : ''}; engine ${chosen.label}; batch ${config.batchSize}, ${workers} worker${workers === 1 ? '' : 's'}; ${subDir ?? opts.cacheDir}` +
      (shard ? ` (shard ${formatShard(shard)}: ${unique.length} of ${opts.images.length} images)` : ''),
  );
  // Batches are read from the source as they are needed: only the batches in flight are in memory.
  const batches = inBatches(source.read(todo.map((img) => img.name)), config.batchSize)[Symbol.asyncIterator]();
  const bar = progressBar(todo.length, 'features [{bar}] {value}/{total} images | {rate} img/s | ETA {eta_formatted}');
  const bad: { name: string; reason: string }[] = [];
  let computed = 0;
  let done = 0;
  const pool = workers > 1 ? await createEmbedPool({ workers, identity, backend: backendName, weights: config.weights }) : undefined;
  // With a pool, the workers hold their own copies: free this thread's (ResNet50 is ~100 MB).
  if (pool && chosen.engine === 'tfjs') chosen.encoder.dispose();
  const local = pool ? undefined : chosen;
  const embed = async (b: DecodedBatch): Promise<Float32Array> =>
    pool
      ? pool.embed(b.pixels, identity.inputSize)
      : chosen.engine === 'onnx'
        ? chosen.encoder.embedBatch(b.pixels)
        : embedPixels(chosen.encoder, b.pixels, identity.inputSize);
  const loopStart = performance.now();
  // Keep `workers + 1` batches decoding or computing at once; results are written in order.
  type Computed = { batch: SourcedImage[]; copied: Map<string, Buffer>; decoded: DecodedBatch; rows: Float32Array | undefined };
  const inFlight: Promise<Computed>[] = [];
  try {
    // false once the source is exhausted; true if it launched one more batch
    const launchNext = async (): Promise<boolean> => {
      const next = await batches.next();
      if (next.done) return false;
      const batch = next.value;
      const copied = new Map<string, Buffer>();
      if (sources.length)
        for (const img of batch) {
          const bytes = shardRow(img);
          if (bytes) copied.set(img.name, bytes);
        }
      const decodedP = decodeBatch(
        batch.filter((img) => !copied.has(img.name)),
        identity,
      );
      inFlight.push(
        decodedP.then(async (decoded) => ({ batch, copied, decoded, rows: decoded.names.length ? await embed(decoded) : undefined })),
      );
      return true;
    };
    let more = true;
    while (more && inFlight.length < workers + 1) more = await launchNext();
    while (inFlight.length) {
      const { batch, copied, decoded, rows } = await (inFlight.shift() as (typeof inFlight)[number]);
      if (more) more = await launchNext();
      if (copied.size) await appendMerged({ writer, batch, copied, decoded, rows, dtype: config.dtype, contents });
      else if (rows)
        await writer.append(
          decoded.names,
          rows,
          decoded.names.map((n) => contents.get(n) ?? ''),
        );
      throwIfStopRequested(
        `prepare stopped with ${writer.rowCount} image features cached; run the same \`capgen prepare\` again to go on from there`,
      );
      computed += decoded.names.length;
      bad.push(...decoded.bad);
      done += decoded.names.length + decoded.bad.length + copied.size;
      const rate = computed / ((performance.now() - loopStart) / 1000);
      bar.update(done, { rate: rate.toFixed(1) });
    }
  } finally {
    bar.stop();
    // A stop (or an error) leaves batches still computing: let them end before their encoder goes.
    await Promise.allSettled(inFlight);
    await batches.return?.(undefined);
    await pool?.close();
    await writer.close();
    await local?.encoder.dispose();
    for (const s of sources) s.reader.close();
  }
  if (subDir) await markShardDone(subDir, { images: unique.length, computed, reused, bad: bad.length });
  // Every shard row is now durable in the cache itself (each batch is synced as it is appended).
  else if (sources.length) await removeShardCaches(opts.cacheDir);
  for (const b of bad) info(`bad image: ${b.name}: ${b.reason}`);
  const seconds = (performance.now() - started) / 1000;
  const loopSeconds = (performance.now() - loopStart) / 1000;
  info(
    `features: ${computed} computed, ${reused} reused, ${bad.length} unreadable in ${formatSeconds(seconds)}` +
      (computed ? ` (${(computed / loopSeconds).toFixed(1)} images/s)` : ''),
  );
  return { dir: opts.cacheDir, encoder: identity, dtype: config.dtype, computed, reused, bad };
}

/**
 * One batch of the todo list, rows in the batch's order whether copied from a shard or computed
 * here, as one index line: the cache a merge writes is byte for byte what one process writes.
 */
async function appendMerged(opts: {
  writer: CacheWriter;
  batch: { name: string }[];
  copied: Map<string, Buffer>;
  decoded: DecodedBatch;
  rows: Float32Array | undefined;
  dtype: 'float32' | 'float16';
  contents: Map<string, string>;
}): Promise<void> {
  const { decoded } = opts;
  const computed = opts.rows ? encodeRows(opts.rows, opts.dtype) : Buffer.alloc(0);
  const rowBytes = decoded.names.length ? computed.length / decoded.names.length : 0;
  const position = new Map(decoded.names.map((n, i) => [n, i]));
  const names: string[] = [];
  const parts: Buffer[] = [];
  for (const { name } of opts.batch) {
    const i = position.get(name);
    const bytes = opts.copied.get(name) ?? (i === undefined ? undefined : computed.subarray(i * rowBytes, (i + 1) * rowBytes));
    if (!bytes) continue; // unreadable
    names.push(name);
    parts.push(bytes);
  }
  if (names.length)
    await opts.writer.appendEncoded(
      names,
      Buffer.concat(parts),
      names.map((n) => opts.contents.get(n) ?? ''),
    );
}
