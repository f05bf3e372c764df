// tfjs layers models as encoders (cut at a layer, pooled, sharded weights), and rebuilding a recorded encoder.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { createLayersEncoder } from '../../src/features/encoders/layers-encoder.js';
import { embedImageBuffer, embedImageFiles, loadEncoder } from '../../src/features/load-encoder.js';
import { HAS_SHARED, SHARED_DIR, tempDir } from '../helpers.js';
import { writeTinyModel } from './tiny-model.js';

describe('tfjs layers encoder', () => {
  const dir = tempDir('capgen-enc-');
  let modelJson = '';
  let model: tf.LayersModel;
  beforeAll(async () => {
    await initBackend('wasm');
    ({ modelJson, model } = await writeTinyModel(path.join(dir, 'tiny'), { seed: 3, shards: 3 }));
  });

  it('cuts at a layer, applies the preprocessing, pools, and hashes the shards', async () => {
    const enc = await createLayersEncoder({
      modelJsonPath: modelJson,
      layer: 'features',
      preprocess: 'tf',
      pooling: 'avg',
      resize: 'squash',
    });
    const full = await createLayersEncoder({ modelJsonPath: modelJson, preprocess: 'unit', pooling: 'none', resize: 'squash' });
    expect(enc.identity).toMatchObject({
      architecture: 'tfjs-layers',
      layer: 'features',
      inputSize: [16, 16],
      featureShape: [4],
      preprocess: 'tf',
    });
    expect(full.identity).toMatchObject({ layer: 'head', featureShape: [8, 8, 2] });
    const shards = await Promise.all([1, 2, 3].map((i) => fs.readFile(path.join(dir, 'tiny', `group1-shard${i}of3.bin`))));
    expect(enc.identity.weightsHash).toBe(createHash('sha256').update(Buffer.concat(shards)).digest('hex'));

    const pixels = tf.randomUniform([2, 16, 16, 3], 0, 255, 'float32', 9) as tf.Tensor4D;
    const cut = tf.model({ inputs: model.inputs, outputs: model.getLayer('features').output as tf.SymbolicTensor });
    const want = tf.tidy(() => (cut.predict(pixels.div(127.5).sub(1)) as tf.Tensor).mean([1, 2]));
    const wantFull = tf.tidy(() => model.predict(pixels.div(255)) as tf.Tensor);
    const before = tf.memory().numTensors;
    const got = enc.embed(pixels);
    const gotFull = full.embed(pixels);
    expect(got.shape).toEqual([2, 4]);
    tf.dispose([got, gotFull]);
    expect(tf.memory().numTensors).toBe(before);
    const gotAgain = enc.embed(pixels);
    const gotFullAgain = full.embed(pixels);
    expect(tf.tidy(() => tf.sub(gotAgain, want).abs().max().dataSync()[0])).toBeLessThan(1e-5);
    expect(tf.tidy(() => tf.sub(gotFullAgain, wantFull).abs().max().dataSync()[0])).toBeLessThan(1e-5);
    tf.dispose([gotAgain, gotFullAgain]);
    tf.dispose([pixels, want, wantFull]);
    enc.dispose();
    full.dispose();
  });

  it('names the layers when the one asked for does not exist', async () => {
    await expect(
      createLayersEncoder({ modelJsonPath: modelJson, layer: 'featurez', preprocess: 'tf', pooling: 'avg', resize: 'squash' }),
    ).rejects.toMatchObject({
      message: "the model has no layer 'featurez'",
      hint: expect.stringContaining('features'),
    });
  });

  it('loadEncoder rebuilds the recorded encoder and refuses changed weights', async () => {
    const enc = await createLayersEncoder({
      modelJsonPath: modelJson,
      layer: 'features',
      preprocess: 'caffe',
      pooling: 'avg',
      resize: 'crop',
    });
    const image = await sharp({ create: { width: 30, height: 20, channels: 3, background: '#c08040' } })
      .png()
      .toBuffer();
    await fs.writeFile(path.join(dir, 'img.png'), image);
    const again = await loadEncoder(enc.identity);
    expect(again.identity).toEqual(enc.identity);
    const a = await embedImageBuffer(enc, image);
    const b = await embedImageBuffer(again, image);
    expect([...b]).toEqual([...a]);
    const files = await embedImageFiles(again, [path.join(dir, 'img.png'), path.join(dir, 'missing.png')], { batchSize: 4 });
    expect([...(files.features.get(path.join(dir, 'img.png')) as Float32Array)]).toEqual([...a]);
    expect(files.failed.map((f) => f.path)).toEqual([path.join(dir, 'missing.png')]);
    await expect(embedImageBuffer(enc, Buffer.from('not an image'))).rejects.toMatchObject({ code: 'BAD_INPUT' });

    const copy = path.join(dir, 'changed');
    await fs.cp(path.join(dir, 'tiny'), copy, { recursive: true });
    const shard = path.join(copy, 'group1-shard2of3.bin');
    const bytes = await fs.readFile(shard);
    bytes[0] ^= 1;
    await fs.writeFile(shard, bytes);
    await expect(loadEncoder(enc.identity, { weightsPath: path.join(copy, 'model.json') })).rejects.toMatchObject({ code: 'MISMATCH' });
    enc.dispose();
    again.dispose();
  });
});

describe.skipIf(!HAS_SHARED)('the MobileNet models in ../shared', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });
  it('1.0 feature model pools 7x7x1024 to 1024; 0.25 (55 shards) cut at conv_pw_13_relu gives 256', async () => {
    const image = await fs.readFile(
      path.join(SHARED_DIR, 'data', 'flickr8k', 'Images', (await fs.readdir(path.join(SHARED_DIR, 'data', 'flickr8k', 'Images')))[0]),
    );
    const big = await createLayersEncoder({
      modelJsonPath: path.join(SHARED_DIR, 'models', 'mobilenet_v1_1.0_224_features', 'model.json'),
      preprocess: 'tf',
      pooling: 'avg',
      resize: 'squash',
    });
    const small = await createLayersEncoder({
      modelJsonPath: path.join(SHARED_DIR, 'models', 'mobilenet_v1_0.25_224', 'model.json'),
      layer: 'conv_pw_13_relu',
      preprocess: 'tf',
      pooling: 'avg',
      resize: 'squash',
    });
    expect(big.identity).toMatchObject({ inputSize: [224, 224], featureShape: [1024], layer: 'conv_dw_13_relu' });
    expect(small.identity).toMatchObject({ inputSize: [224, 224], featureShape: [256] });
    for (const enc of [big, small]) {
      const v = await embedImageBuffer(enc, image);
      expect(v.length).toBe(enc.identity.featureShape[0]);
      expect(v.every((x) => Number.isFinite(x) && x >= 0)).toBe(true); // after ReLU6
      expect(v.some((x) => x > 0)).toBe(true);
      enc.dispose();
    }
  }, 120_000);
});
