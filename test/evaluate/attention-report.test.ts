// eval's report.html with an attending model: each shown image carries its words' attention maps
// (the decoded rows, scaled by their peak to bytes) and a browser draws one panel per word; a merge
// model's report, and --no-attention-maps, carry none. Tensors: eval adds none.
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { decodeFeatures } from '../../src/decode/index.js';
import { DEFAULT_EVAL_CONFIG, type EvalConfig } from '../../src/evaluate/config.js';
import { encodeMaps } from '../../src/evaluate/report-html.js';
import { runEval } from '../../src/evaluate/run.js';
import { openCacheWriter } from '../../src/features/cache.js';
import { saveCheckpoint } from '../../src/model/checkpoint.js';
import { loadCheckpoint } from '../../src/engine/decoder.js';
import { mulberry32 as seededRandom } from '../../src/util/random.js';
import { initialWeights, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { registerDecoder } from '../../src/model/registry.js';
import type { EncoderIdentity, PreparedCaption, PrepareRecord } from '../../src/run/formats.js';
import { DEFAULT_CLEANING } from '../../src/text/clean.js';
import { Vocabulary } from '../../src/text/vocabulary.js';
import { attendingSpec, attendingWeights, type AttendingSizes } from '../decode/attending-spec.js';
import { tempDir } from '../helpers.js';

const GRID: [number, number] = [3, 4];
const CHANNELS = 5;
const FEATURE_SIZE = GRID[0] * GRID[1] * CHANNELS;
const IDENTITY: EncoderIdentity = {
  architecture: 'seeded-cnn',
  weightsHash: 'seeded:1',
  layer: 'test',
  preprocess: 'unit',
  resize: 'squash',
  pooling: 'none',
  inputSize: [32, 32],
  featureShape: [...GRID, CHANNELS],
};
const FEATURES_DIR = 'features/spatial-test';
const IMAGES = ['one.jpg', 'two.png', 'three.jpg', 'four.png'];
const RAWS = ['A dog runs on the grass.', 'a man plays with a red ball', 'children play on a beach', 'a cat sits on the water'];
const CHROMIUM = process.env.CAPGEN_CHROMIUM ?? '/usr/bin/chromium';

/** The maps box of one card of report.html: grid, words and the base64 bytes. */
function mapsOf(html: string, image: string): { grid: string; words: string[]; maps: string } | undefined {
  const card = html.split('<div class="card"').find((c) => c.includes(`data-image="${image}"`))!;
  const m = card.match(/<div class="maps" data-grid="([^"]*)" data-words="([^"]*)" data-maps="([^"]*)">/);
  if (!m) return undefined;
  return {
    grid: m[1],
    words: JSON.parse(
      m[2]
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&amp;/g, '&'),
    ),
    maps: m[3],
  };
}

describe('report.html attention maps', () => {
  const root = tempDir('capgen-attention-report-');
  const runDir = path.join(root, 'run');
  const attendingDir = path.join(root, 'attending');
  const mergeDir = path.join(root, 'merge');
  const vectors: Float32Array[] = [];

  beforeAll(async () => {
    await initBackend('wasm');
    registerDecoder(attendingSpec);
    const imagesDir = path.join(root, 'images');
    await fs.mkdir(imagesDir, { recursive: true });
    for (const [i, name] of IMAGES.entries()) {
      const img = sharp({ create: { width: 40 + 10 * i, height: 30, channels: 3, background: { r: 60 * i, g: 100, b: 200 - 40 * i } } });
      await (name.endsWith('.png') ? img.png() : img.jpeg()).toFile(path.join(imagesDir, name));
    }
    await fs.mkdir(runDir, { recursive: true });
    const record: PrepareRecord = {
      createdAt: 'test',
      capgenVersion: 'test',
      config: { imagesDir },
      cleaning: DEFAULT_CLEANING,
      maxCaptionLength: 6,
      stats: {},
      features: { dir: FEATURES_DIR, encoder: IDENTITY, dtype: 'float32' },
    };
    await fs.writeFile(path.join(runDir, 'prepare.json'), JSON.stringify(record));
    const rows: PreparedCaption[] = IMAGES.map((image, i) => ({ image, split: 'dev', raw: RAWS[i], tokens: [] }));
    await fs.writeFile(path.join(runDir, 'captions.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const rand = seededRandom(4);
    const writer = await openCacheWriter(path.join(runDir, FEATURES_DIR), { identity: IDENTITY, dtype: 'float32', dim: FEATURE_SIZE });
    for (let i = 0; i < IMAGES.length; i++) vectors.push(Float32Array.from({ length: FEATURE_SIZE }, () => rand() * 4 - 2));
    const flat = new Float32Array(IMAGES.length * FEATURE_SIZE);
    vectors.forEach((v, i) => flat.set(v, i * FEATURE_SIZE));
    await writer.append(IMAGES, flat);
    await writer.close();

    const words = RAWS.join(' ')
      .toLowerCase()
      .replace(/[^a-z ]/g, '')
      .split(' ');
    const vocab = Vocabulary.build(new Map(words.map((w) => [w, 1])), 1);
    const common = {
      vocab: vocab.toFile(),
      cleaning: DEFAULT_CLEANING,
      encoder: IDENTITY,
      maxCaptionLength: 6,
      trainConfig: {},
      epoch: 1,
      metrics: {},
      createdAt: 'test',
    };
    const sizes: AttendingSizes = {
      vocabSize: vocab.size,
      featureSize: FEATURE_SIZE,
      dropout: 0,
      height: GRID[0],
      width: GRID[1],
      channels: CHANNELS,
    };
    await saveCheckpoint(attendingDir, {
      meta: { architecture: attendingSpec.architecture, ...sizes, ...common },
      weights: attendingWeights(sizes, { seed: 5, endBias: 2 }),
    });
    const mergeSizes: MergeLstmSizes = { vocabSize: vocab.size, embeddingSize: 8, hiddenSize: 8, featureSize: FEATURE_SIZE, dropout: 0 };
    await saveCheckpoint(mergeDir, {
      meta: { architecture: 'merge-lstm', ...mergeSizes, ...common },
      weights: initialWeights(mergeSizes, 1),
    });
  });

  const evalWith = (checkpointDir: string, out: string, extra: Partial<EvalConfig> = {}) =>
    runEval({ ...DEFAULT_EVAL_CONFIG, runDir, checkpointDir, split: 'dev', outDir: path.join(root, out), backend: 'wasm', ...extra });

  it("holds each image's decoded attention, word by word, and adds no tensors", async () => {
    const before = tf.memory().numTensors;
    const { files } = await evalWith(attendingDir, 'attending', { beamSize: 2 });
    expect(tf.memory().numTensors).toBe(before);
    const html = readFileSync(files.report, 'utf8');
    expect(html).toContain('attention over the 3x4 image regions');
    // the independent decoding: same search, rows asked for directly
    const { meta, model } = await loadCheckpoint(attendingDir);
    const decoded = await decodeFeatures(model, vectors, {
      maxLength: 6,
      beamSize: 2,
      lengthPenalty: 0,
      blockNgrams: DEFAULT_EVAL_CONFIG.blockNgrams,
      featureShape: [12, CHANNELS],
      attention: { grid: GRID },
    });
    model.dispose();
    const vocab = Vocabulary.fromFile(meta.vocab);
    let withWords = 0;
    IMAGES.forEach((image, i) => {
      const words = vocab.decode(decoded[i].tokens);
      const maps = mapsOf(html, image);
      if (words.length === 0) return expect(maps).toBeUndefined(); // nothing to show for an empty caption
      withWords++;
      expect(maps!.grid).toBe('3,4');
      expect(maps!.words).toEqual(words);
      const bytes = Buffer.from(maps!.maps, 'base64');
      expect(bytes).toHaveLength(words.length * 12);
      decoded[i].attention!.forEach((row, k) => {
        expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
        const peak = Math.max(...row);
        row.forEach((w, r) => expect(Math.abs(bytes[k * 12 + r] - (255 * w) / peak)).toBeLessThanOrEqual(1));
      });
    });
    expect(withWords).toBeGreaterThan(1);
  });

  it('a merge model, and --no-attention-maps, put no maps in the report', async () => {
    for (const [dir, out, extra] of [
      [mergeDir, 'merge', {}],
      [attendingDir, 'off', { attentionMaps: false }],
    ] as const) {
      const { files } = await evalWith(dir, out, extra);
      const html = readFileSync(files.report, 'utf8');
      expect(html).not.toContain('class="maps"');
      expect(html).not.toContain('attention over the');
      expect(html.match(/<div class="card"/g)).toHaveLength(IMAGES.length);
    }
  });

  it('encodes each row scaled by its peak, one byte a region', () => {
    expect([
      ...Buffer.from(
        encodeMaps([
          [0.5, 0.25, 0.25],
          [0, 0.1, 0.9],
        ]),
        'base64',
      ),
    ]).toEqual([255, 128, 128, 0, 28, 255]);
  });

  it.skipIf(!existsSync(CHROMIUM))(
    'a browser draws one heatmap panel per word over the thumbnail',
    async () => {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run'],
      });
      try {
        const page = await browser.newPage();
        const problems: string[] = [];
        page.on('pageerror', (e) => problems.push(e.message));
        await page.goto(`file://${path.join(root, 'attending', 'report.html')}`);
        const html = readFileSync(path.join(root, 'attending', 'report.html'), 'utf8');
        for (const image of IMAGES) {
          const maps = mapsOf(html, image);
          const selector = `.card[data-image="${image}"] .maps figure`;
          if (!maps) continue;
          // maps are drawn when their card comes near the screen: bring it there, as a reader scrolling would
          await page.locator(`.card[data-image="${image}"]`).scrollIntoViewIfNeeded();
          await page.waitForSelector(selector, { timeout: 10_000 }).catch((e: Error) => {
            throw new Error(`${e.message}; page errors: ${problems.join(' | ') || 'none'}`);
          });
          expect(await page.$$eval(`${selector} figcaption`, (f) => f.map((x) => x.textContent))).toEqual(maps.words);
          // the panel is painted: not one flat colour
          const colours = await page.$eval(`${selector} canvas`, (c) => {
            // (the test's TypeScript has no DOM types)
            const canvas = c as unknown as {
              width: number;
              height: number;
              getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
            };
            const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            const seen = new Set<string>();
            for (let i = 0; i < d.length; i += 4 * 37) seen.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);
            return seen.size;
          });
          expect(colours).toBeGreaterThan(5);
        }
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
