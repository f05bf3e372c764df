// The exported encoder (src/export/encoder.ts), saved and loaded back with tf.loadLayersModel, gives the
// features capgen's own encoder gives, from the preprocessing the manifest records: seeded-cnn (rebuilt
// from layers) and a tfjs layers model cut at a layer, each pooled and spatial (--pooling none).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { encoderLayersModel, layersModelFiles } from '../../src/export/encoder.js';
import { preprocess } from '../../src/export/web/caption-model.js';
import type { Encoder } from '../../src/features/encoder.js';
import { createSeededCnnEncoder } from '../../src/features/encoders/seeded-cnn.js';
import { createLayersEncoder } from '../../src/features/encoders/layers-encoder.js';
import { mulberry32 as seededRandom } from '../../src/util/random.js';
import { writeTinyModel } from '../features/tiny-model.js';
import { tempDir } from '../helpers.js';

async function roundTrip(model: tf.LayersModel): Promise<tf.LayersModel> {
  const files = await layersModelFiles(model);
  const json = files.modelJson as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  const weightData = files.weightData.slice().buffer as ArrayBuffer;
  return tf.loadLayersModel({
    load: async () => ({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }),
  });
}

async function expectSameFeatures(encoder: Encoder): Promise<void> {
  const [h, w] = encoder.identity.inputSize;
  const rand = seededRandom(3);
  const pixels = tf.tensor4d(
    Int32Array.from({ length: 2 * h * w * 3 }, () => Math.floor(rand() * 256)),
    [2, h, w, 3],
    'int32',
  );
  const exported = await roundTrip(await encoderLayersModel(encoder.identity));
  const want = tf.tidy(() => encoder.embed(pixels.toFloat() as tf.Tensor4D));
  const got = tf.tidy(() => exported.predict(preprocess(tf, pixels, encoder.identity.preprocess)) as tf.Tensor);
  expect(got.shape).toEqual([2, ...encoder.identity.featureShape]);
  const a = want.dataSync();
  const b = got.dataSync();
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  expect(worst).toBeLessThan(1e-5);
  expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.01); // not all zeros
  tf.dispose([pixels, want, got]);
  exported.dispose();
  encoder.dispose();
}

describe('exported encoders equal capgen encoders', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('seeded-cnn, rebuilt as layers', async () => {
    await expectSameFeatures(createSeededCnnEncoder({ seed: 5 }));
  });

  it('seeded-cnn with --pooling none: the 4x4 grid of cells, in the layout the attending decoders were trained on', async () => {
    await expectSameFeatures(createSeededCnnEncoder({ seed: 5, pooling: 'none' }));
  });

  it('a tfjs layers model cut at a layer, not pooled', async () => {
    const { modelJson, model } = await writeTinyModel(tempDir('capgen-export-enc-'), { seed: 2, shards: 1 });
    model.dispose();
    await expectSameFeatures(
      await createLayersEncoder({ modelJsonPath: modelJson, layer: 'features', preprocess: 'unit', pooling: 'none', resize: 'squash' }),
    );
  });

  it('a tfjs layers model cut at a layer, average-pooled', async () => {
    const { modelJson, model } = await writeTinyModel(tempDir('capgen-export-enc-'), { seed: 2, shards: 2 });
    model.dispose();
    await expectSameFeatures(
      await createLayersEncoder({ modelJsonPath: modelJson, layer: 'features', preprocess: 'tf', pooling: 'avg', resize: 'squash' }),
    );
  });

  it('resnet50 is refused with a clear error', async () => {
    const seeded = createSeededCnnEncoder({ seed: 1 });
    seeded.dispose();
    const identity = { ...seeded.identity, architecture: 'resnet50' };
    await expect(encoderLayersModel(identity)).rejects.toThrow(/exporting the 'resnet50' encoder is not supported yet/);
  });
});
