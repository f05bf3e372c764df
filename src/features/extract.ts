// `capgen prepare`'s feature step: every image through the encoder once, into the feature cache of
// the run folder. Decoding of the next batch (sharp, libuv threads) overlaps the current forward pass.
import path from 'node:path';
import type { BackendChoice, BackendInfo } from '../backend/index.js';
import { formatSeconds, info, progressBar } from '../log.js';
import type { EncoderIdentity } from '../run/formats.js';
import { RUN_FILES } from '../run/layout.js';
import { cacheKey, contentHash, openCacheWriter } from './cache.js';
import type { FeaturesConfig } from './config.js';
import { decodeFailure, decodeImage } from './image-load.js';
import { fileImageSource, inBatches, type ImageSource, type SourcedImage } from './image-source.js';
import { chooseEngine } from './engine.js';
import { embedPixels } from './load-encoder.js';
import { createEmbedPool, defaultWorkers } from './pool.js';
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
}

export interface ExtractResult {
  /** Relative to runDir: features/<key>. */
  dir: string;
  encoder: EncoderIdentity;
  dtype: 'float32' | 'float16';
  computed: number;
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

export async function extractFeatures(opts: ExtractOptions): Promise<ExtractResult> {
  const { config } = opts;
  const started = performance.now();
  const chosen = await chooseEngine(config, config.engine);
  const identity = chosen.encoder.identity;
  const key = cacheKey(identity, config.dtype);
  const relDir = path.join(RUN_FILES.featuresDir, key);
  const dim = identity.featureShape.reduce((a, b) => a * b, 1);
  const writer = await openCacheWriter(path.join(opts.runDir, relDir), { identity, dtype: config.dtype, dim });
  const unique = [...new Map(opts.images.map((img) => [img.name, img])).values()];
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
  const reused = unique.length - todo.length;
  const backendName = typeof opts.backend === 'string' ? opts.backend : opts.backend.name;
  // ONNX Runtime already spreads each batch over every core: one worker (this thread) runs it.
  const wanted = chosen.engine === 'onnx' ? 1 : (config.workers ?? defaultWorkers(backendName));
  const workers = Math.min(wanted, Math.max(1, Math.ceil(todo.length / config.batchSize)));
  info(
    `features: ${identity.architecture} (${identity.layer}, ${identity.preprocess}, ${identity.resize}, pooling ${identity.pooling}) -> [${identity.featureShape}] ` +
      `${config.dtype}; ${todo.length} images to encode, ${reused} already cached${copies.length ? ` (${copies.length} under another name)` : ''}; engine ${chosen.label}; batch ${config.batchSize}, ${workers} worker${workers === 1 ? '' : 's'}; ${relDir}`,
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
  const inFlight: Promise<{ decoded: DecodedBatch; rows: Float32Array | undefined }>[] = [];
  try {
    // false once the source is exhausted; true if it launched one more batch
    const launchNext = async (): Promise<boolean> => {
      const next = await batches.next();
      if (next.done) return false;
      const decodedP = decodeBatch(next.value, identity);
      inFlight.push(decodedP.then(async (decoded) => ({ decoded, rows: decoded.names.length ? await embed(decoded) : undefined })));
      return true;
    };
    let more = true;
    while (more && inFlight.length < workers + 1) more = await launchNext();
    while (inFlight.length) {
      const { decoded, rows } = await (inFlight.shift() as (typeof inFlight)[number]);
      if (more) more = await launchNext();
      if (rows)
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
      done += decoded.names.length + decoded.bad.length;
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
  }
  for (const b of bad) info(`bad image: ${b.name}: ${b.reason}`);
  const seconds = (performance.now() - started) / 1000;
  const loopSeconds = (performance.now() - loopStart) / 1000;
  info(
    `features: ${computed} computed, ${reused} reused, ${bad.length} unreadable in ${formatSeconds(seconds)}` +
      (computed ? ` (${(computed / loopSeconds).toFixed(1)} images/s)` : ''),
  );
  return { dir: relDir, encoder: identity, dtype: config.dtype, computed, reused, bad };
}
