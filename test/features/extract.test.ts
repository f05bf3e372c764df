// extractFeatures end to end on a tiny encoder: bad images listed, results reused, an interrupted
// run resumed without recomputing, a worker pool giving the same features, no tensor leak.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { CACHE_FILES, openFeatureCache } from '../../src/features/cache.js';
import { DEFAULT_FEATURES_CONFIG, type FeaturesConfig } from '../../src/features/config.js';
import { extractFeatures } from '../../src/features/extract.js';
import { embedImageFiles, loadEncoder } from '../../src/features/load-encoder.js';
import { REPO_ROOT, tempDir } from '../helpers.js';
import { writeBrokenImages } from './broken-images.js';
import { writeTinyModel } from './tiny-model.js';

describe('extractFeatures', () => {
  const root = tempDir('capgen-extract-');
  const imagesDir = path.join(root, 'images');
  let config: FeaturesConfig;
  let images: { name: string; path: string }[] = [];
  let brokenNames: string[] = [];
  beforeAll(async () => {
    await initBackend('wasm');
    const { modelJson } = await writeTinyModel(path.join(root, 'model'), { seed: 5, shards: 1 });
    // engine tfjs: this file checks bit-exact equality with the tfjs encoder (test/features/onnx-*.test.ts covers onnx).
    config = {
      ...DEFAULT_FEATURES_CONFIG,
      encoder: modelJson,
      encoderLayer: 'features',
      preprocess: 'tf',
      batchSize: 3,
      workers: 1,
      engine: 'tfjs',
    };
    await fs.mkdir(imagesDir, { recursive: true });
    for (let i = 0; i < 7; i++) {
      const name = `img${i}.png`;
      await sharp({ create: { width: 20 + i, height: 18, channels: 3, background: { r: 30 * i, g: 200 - 20 * i, b: 90 } } })
        .png()
        .toFile(path.join(imagesDir, name));
      images.push({ name, path: path.join(imagesDir, name) });
    }
    brokenNames = Object.keys(await writeBrokenImages(imagesDir));
    images = [...images.slice(0, 3), ...brokenNames.map((name) => ({ name, path: path.join(imagesDir, name) })), ...images.slice(3)];
  });

  it('computes each good image once, lists the bad ones, and reuses the cache', async () => {
    const runDir = path.join(root, 'run');
    const before = tf.memory().numTensors;
    const first = await extractFeatures({ runDir, images, config, backend: 'wasm' });
    expect(tf.memory().numTensors).toBe(before);
    expect(first).toMatchObject({ computed: 7, reused: 0, dtype: 'float32' });
    expect(first.dir).toMatch(/^features\/tfjs-layers-[0-9a-f]{12}$/);
    expect(first.bad.map((b) => b.name).sort()).toEqual([...brokenNames].sort());
    expect(first.bad.every((b) => b.reason.length > 0 && !b.reason.includes('\n'))).toBe(true);

    const cache = await openFeatureCache(path.join(runDir, first.dir));
    expect(cache.identity).toEqual(first.encoder);
    expect(cache.names().sort()).toEqual(
      images
        .filter((i) => !brokenNames.includes(i.name))
        .map((i) => i.name)
        .sort(),
    );
    // The same vectors as embedding the files directly.
    const encoder = await loadEncoder(first.encoder);
    const direct = await embedImageFiles(encoder, [images[0].path, images[9].path]);
    expect([...(cache.get(images[0].name) as Float32Array)]).toEqual([...(direct.features.get(images[0].path) as Float32Array)]);
    expect([...(cache.get(images[9].name) as Float32Array)]).toEqual([...(direct.features.get(images[9].path) as Float32Array)]);
    encoder.dispose();
    cache.close();

    const second = await extractFeatures({ runDir, images, config, backend: 'wasm' });
    expect(second).toMatchObject({ computed: 0, reused: 7, dir: first.dir });
    const other = await extractFeatures({ runDir, images: images.slice(0, 2), config: { ...config, preprocess: 'unit' }, backend: 'wasm' });
    expect(other.dir).not.toBe(first.dir);
    expect(other.computed).toBe(2);
  });

  it('resumes after a kill mid-batch: the torn batch is redone, the rest is not recomputed', async () => {
    const runDir = path.join(root, 'killed');
    const good = images.filter((i) => !brokenNames.includes(i.name));
    const first = await extractFeatures({ runDir, images: good.slice(0, 6), config, backend: 'wasm' }); // two batches of 3
    const dir = path.join(runDir, first.dir);
    const index = (await fs.readFile(path.join(dir, CACHE_FILES.index), 'utf8')).split('\n');
    // As if killed while committing the second batch: its index line half written.
    await fs.writeFile(path.join(dir, CACHE_FILES.index), `${index[0]}\n${index[1].slice(0, 20)}`);
    const resumed = await extractFeatures({ runDir, images: good, config, backend: 'wasm' });
    expect(resumed).toMatchObject({ computed: 4, reused: 3 });
    const cache = await openFeatureCache(dir);
    expect(cache.names().length).toBe(7);
    const vectorsBytes = (await fs.stat(path.join(dir, CACHE_FILES.vectors))).size;
    expect(vectorsBytes).toBe(7 * cache.dim * 4);
    cache.close();
  });

  const built = existsSync(path.join(REPO_ROOT, 'dist', 'features', 'embed-worker.js'));
  it.skipIf(!built)(
    'a pool of 2 workers writes the same features as one thread',
    async () => {
      const one = await extractFeatures({ runDir: path.join(root, 'one'), images, config, backend: 'wasm' });
      const two = await extractFeatures({ runDir: path.join(root, 'two'), images, config: { ...config, workers: 2 }, backend: 'wasm' });
      expect(two.computed).toBe(7);
      expect(two.bad.length).toBe(brokenNames.length);
      const a = await openFeatureCache(path.join(root, 'one', one.dir));
      const b = await openFeatureCache(path.join(root, 'two', two.dir));
      for (const name of a.names()) expect([...(b.get(name) as Float32Array)], name).toEqual([...(a.get(name) as Float32Array)]);
      a.close();
      b.close();
    },
    60_000,
  );
});
