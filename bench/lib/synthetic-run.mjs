// A generated run folder at any scale, as `capgen prepare` writes it (prepare.json, vocab.json,
// captions.jsonl and a feature cache in its own format): for the training benchmarks past Flickr8k,
// COCO's size by default (123,287 images x 7x7x1024 float16 = 12.4 GB, 5 captions each, the Karpathy
// split's 5000 dev and 5000 test images). Everything is written as a stream: memory stays flat
// whatever the size. The features are random post-ReLU-like values (speed and memory only: no model
// learns anything from them); the captions are random words with COCO-like lengths.
// Usage: node bench/lib/synthetic-run.mjs --out DIR [--images 123287] [--grid 7] [--channels 1024]
//        [--captions-per-image 5] [--vocab 2000] [--mean-words 10.5] [--dtype float16|float32] [--seed 1]
// (--vocab 2535 --mean-words 11.8: Flickr8k's shapes at min-count 5, to compare with a Flickr8k run.)
// Needs `npm run build` (it writes the cache with capgen's own writer, dist/features/cache.js).
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheKey, openCacheWriter } from '../../dist/features/cache.js';
import { DEFAULT_CLEANING } from '../../dist/text/clean.js';

/** COCO (Karpathy split): 113,287 train + 5000 dev + 5000 test images. */
export const COCO_IMAGES = 123287;
const COCO_HELD_OUT = 5000;
/** Images per cache batch (one index line each): ~25 MB of float16 7x7x1024 rows in memory at a time. */
const ROWS_PER_BATCH = 256;
/** Caption lengths in words: COCO's mean is ~10.5 (sd ~2.5), few below 8 or above 16, a rare long one. */
const COCO_MEAN_WORDS = 10.5;
const MIN_WORDS = 5;
const MAX_WORDS = 30;

/** xorshift32: fast, seeded, good enough for filler data. */
function xorshift(seed) {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/**
 * Writes the run folder and returns what it wrote. opts: out (folder), images, grid (H = W),
 * channels, captionsPerImage, vocab (words), meanWords (caption length), dtype (of the cache), seed,
 * log (progress lines).
 */
export async function writeSyntheticRun(opts) {
  const images = opts.images ?? COCO_IMAGES;
  const grid = opts.grid ?? 7;
  const channels = opts.channels ?? 1024;
  const perImage = opts.captionsPerImage ?? 5;
  const vocabWords = opts.vocab ?? 2000;
  const meanWords = opts.meanWords ?? COCO_MEAN_WORDS;
  const dtype = opts.dtype ?? 'float16';
  const rand = xorshift(opts.seed ?? 1);
  const log = opts.log ?? (() => {});
  const out = opts.out;
  mkdirSync(out, { recursive: true });

  // The Karpathy split's share of held-out images, scaled to the size asked for.
  const heldOut = Math.round((images * COCO_HELD_OUT) / COCO_IMAGES);
  const split = (i) => (i < images - 2 * heldOut ? 'train' : i < images - heldOut ? 'dev' : 'test');
  const name = (i) => `COCO_synthetic_${String(i).padStart(12, '0')}.jpg`;

  // Words w0..w{n-1}, drawn Zipf-like (a few frequent, many rare), as in real captions.
  const words = Array.from({ length: vocabWords }, (_, k) => `w${k}`);
  const word = () => words[Math.floor(vocabWords * (rand() / 2 ** 32) ** 2)];
  const length = () => {
    // The mean of three uniforms (sd 1/6): a bell of sd 2.5 words; 2% get up to 12 more words.
    const u = (rand() + rand() + rand()) / 3 / 2 ** 32;
    const tail = rand() / 2 ** 32 < 0.02 ? Math.floor((rand() / 2 ** 32) * 12) : 0;
    return Math.max(MIN_WORDS, Math.min(MAX_WORDS, Math.round(meanWords + (u - 0.5) * 15) + tail));
  };
  const captionsFile = path.join(out, 'captions.jsonl');
  const captions = createWriteStream(captionsFile);
  let longest = 0;
  const splitCaptions = { train: 0, dev: 0, test: 0 };
  for (let i = 0; i < images; i++) {
    let lines = '';
    for (let c = 0; c < perImage; c++) {
      const tokens = Array.from({ length: length() }, word);
      longest = Math.max(longest, tokens.length);
      lines += `${JSON.stringify({ image: name(i), split: split(i), raw: tokens.join(' '), tokens })}\n`;
      splitCaptions[split(i)]++;
    }
    if (!captions.write(lines)) await new Promise((resolve) => captions.once('drain', resolve));
  }
  await new Promise((resolve, reject) => captions.end((e) => (e ? reject(e) : resolve())));

  const vocab = {
    tokens: ['<pad>', '<start>', '<end>', '<unk>', ...words],
    specials: { pad: 0, start: 1, end: 2, unk: 3 },
    minCount: 5,
  };
  writeFileSync(path.join(out, 'vocab.json'), JSON.stringify(vocab));

  const identity = {
    architecture: 'synthetic',
    weightsHash: `random:${opts.seed ?? 1}`,
    layer: 'none',
    preprocess: 'tf',
    resize: 'squash',
    pooling: 'none',
    inputSize: [224, 224],
    featureShape: [grid, grid, channels],
  };
  const dim = grid * grid * channels;
  const featuresDir = path.join('features', cacheKey(identity, dtype));
  const writer = await openCacheWriter(path.join(out, featuresDir), { identity, dtype, dim });
  // Post-ReLU-like values: half zeros, the rest exponential with mean 1; drawn from a table by random bits.
  const table = Float32Array.from({ length: 4096 }, (_, k) => (k < 2048 ? 0 : -Math.log(1 - (k - 2048 + 0.5) / 2048)));
  const values = new Float32Array(ROWS_PER_BATCH * dim);
  const started = Date.now();
  for (let first = 0; first < images; first += ROWS_PER_BATCH) {
    const rows = Math.min(ROWS_PER_BATCH, images - first);
    const batch = values.subarray(0, rows * dim);
    for (let j = 0; j < batch.length; j += 2) {
      const r = rand();
      batch[j] = table[r & 4095];
      if (j + 1 < batch.length) batch[j + 1] = table[(r >>> 16) & 4095];
    }
    await writer.append(
      Array.from({ length: rows }, (_, k) => name(first + k)),
      batch,
    );
    if (((first / ROWS_PER_BATCH) % 50 === 0 && first > 0) || first + rows === images)
      log(`features: ${first + rows}/${images} images written (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  await writer.close();

  const splitImages = { train: images - 2 * heldOut, dev: heldOut, test: heldOut };
  const prepare = {
    createdAt: new Date().toISOString(),
    capgenVersion: 'synthetic',
    config: {
      format: 'synthetic-run',
      images,
      grid,
      channels,
      captionsPerImage: perImage,
      vocab: vocabWords,
      meanWords,
      dtype,
      seed: opts.seed ?? 1,
    },
    cleaning: DEFAULT_CLEANING,
    maxCaptionLength: longest,
    stats: {
      format: 'synthetic-run',
      images,
      captions: images * perImage,
      vocabularySize: vocab.tokens.length,
      minCount: vocab.minCount,
      splitImages,
      splitCaptions,
      features: { dir: featuresDir, architecture: identity.architecture, computed: images, reused: 0 },
    },
    features: { dir: featuresDir, encoder: identity, dtype },
  };
  writeFileSync(path.join(out, 'prepare.json'), JSON.stringify(prepare, null, 2));
  return {
    out,
    images,
    dim,
    dtype,
    featuresDir,
    splitImages,
    maxCaptionLength: longest,
    vectorBytes: images * dim * (dtype === 'float16' ? 2 : 4),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const flag = (name, fallback) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : fallback;
  };
  const out = flag('out');
  if (!out) {
    console.error('usage: node bench/lib/synthetic-run.mjs --out DIR [--images 123287] [--grid 7] [--channels 1024] ...');
    process.exit(2);
  }
  const r = await writeSyntheticRun({
    out,
    images: Number(flag('images', COCO_IMAGES)),
    grid: Number(flag('grid', 7)),
    channels: Number(flag('channels', 1024)),
    captionsPerImage: Number(flag('captions-per-image', 5)),
    vocab: Number(flag('vocab', 2000)),
    meanWords: Number(flag('mean-words', COCO_MEAN_WORDS)),
    dtype: flag('dtype', 'float16'),
    seed: Number(flag('seed', 1)),
    log: (line) => console.error(line),
  });
  console.log(
    `${r.out}: ${r.images} images (train ${r.splitImages.train}, dev ${r.splitImages.dev}, test ${r.splitImages.test}), features ${r.dim} ${r.dtype} = ${(r.vectorBytes / 2 ** 30).toFixed(2)} GiB in ${r.featuresDir}`,
  );
}
