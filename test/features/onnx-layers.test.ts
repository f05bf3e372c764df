// tfjs layers models as ONNX graphs against tfjs itself: a generated model with every supported
// layer kind (odd sizes, asymmetric padding, BN with real statistics, a BN that cannot be folded),
// the MobileNet 0.25 from ../shared, and an unsupported layer falling back to tfjs with its reason.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { DEFAULT_FEATURES_CONFIG, type FeaturesConfig } from '../../src/features/config.js';
import { chooseEngine } from '../../src/features/engine.js';
import { createLayersEncoder } from '../../src/features/encoders/layers-encoder.js';
import { embedPixels } from '../../src/features/load-encoder.js';
import { HAS_SHARED, SHARED_DIR, tempDir } from '../helpers.js';
import { SKIP_ORT, maxAbsDiff, testImages } from './onnx-helpers.js';

/** Saves `model` as model.json + one weight file, as tfjs' converter lays them out. */
async function save(model: tf.LayersModel, dir: string): Promise<string> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })),
  );
  const a = artifacts as tf.io.ModelArtifacts;
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'weights.bin'), new Uint8Array(a.weightData as ArrayBuffer));
  const file = path.join(dir, 'model.json');
  await fs.writeFile(
    file,
    JSON.stringify({
      format: 'layers-model',
      modelTopology: a.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
    }),
  );
  return file;
}

/** Random BN statistics (a fresh layer has mean 0, variance 1: folding would be untested). */
function randomizeBatchNorms(model: tf.LayersModel, seed: number): void {
  for (const layer of model.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
    const n = layer.getWeights()[0].shape[0];
    const u = (lo: number, hi: number, s: number) => tf.randomUniform([n], lo, hi, 'float32', seed + s);
    layer.setWeights([u(0.5, 1.5, 1), u(-0.3, 0.3, 2), u(-0.5, 0.5, 3), u(0.3, 2, 4)]);
  }
}

/** 23x19x3 -> pad -> conv s2 -> BN -> ReLU(6) -> depthwise x2 s2 -> BN -> relu6 -> [conv 1x1 relu, BN] -> add -> maxpool -> GAP */
function tinyModel(): tf.LayersModel {
  const init = (s: number) => tf.initializers.randomNormal({ seed: s, stddev: 0.4 });
  const input = tf.input({ shape: [23, 19, 3] });
  let x = tf.layers
    .zeroPadding2d({
      padding: [
        [1, 2],
        [0, 1],
      ],
    })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({ name: 'c1', filters: 6, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: init(1), biasInitializer: init(2) })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'r1', maxValue: 6 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .depthwiseConv2d({
      name: 'dw',
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      depthMultiplier: 2,
      useBias: false,
      depthwiseInitializer: init(3),
    })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn2' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ name: 'a2', activation: 'relu6' }).apply(x) as tf.SymbolicTensor;
  // c3 is read by both bn3 and the add: bn3 cannot be folded into it.
  const c3 = tf.layers
    .conv2d({ name: 'c3', filters: 12, kernelSize: 1, kernelInitializer: init(4), biasInitializer: init(5) })
    .apply(x) as tf.SymbolicTensor;
  const bn3 = tf.layers.batchNormalization({ name: 'bn3' }).apply(c3) as tf.SymbolicTensor;
  x = tf.layers.add({ name: 'sum' }).apply([c3, bn3]) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ name: 'pool', poolSize: 2, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

describe.skipIf(SKIP_ORT)('tfjs layers models on ONNX Runtime', () => {
  const root = tempDir('capgen-onnx-layers-');
  let modelJson: string;
  beforeAll(async () => {
    await initBackend('wasm');
    const model = tinyModel();
    randomizeBatchNorms(model, 7);
    modelJson = await save(model, path.join(root, 'tiny'));
    model.dispose();
  });

  async function compare(config: FeaturesConfig, images: Uint8Array[]): Promise<{ diff: number; shape: number[] }> {
    const onnx = await chooseEngine(config, 'onnx');
    const tfjs = await createLayersEncoder({
      modelJsonPath: config.encoder,
      layer: config.encoderLayer,
      preprocess: config.preprocess ?? 'tf',
      pooling: config.pooling,
      resize: config.resize,
    });
    try {
      expect(onnx.engine).toBe('onnx');
      expect(onnx.encoder.identity).toEqual(tfjs.identity);
      const expected = embedPixels(tfjs, images, tfjs.identity.inputSize);
      const got = onnx.engine === 'onnx' ? await onnx.encoder.embedBatch(images) : new Float32Array();
      expect(Math.max(...expected.map(Math.abs))).toBeGreaterThan(0.1);
      return { diff: maxAbsDiff(got, expected), shape: onnx.encoder.identity.featureShape };
    } finally {
      tfjs.dispose();
      await onnx.encoder.dispose();
    }
  }

  const cases: [string | undefined, FeaturesConfig['pooling'], FeaturesConfig['preprocess'], number[]][] = [
    [undefined, 'avg', 'tf', [12]], // the whole model, ending in GlobalAveragePooling2D
    ['sum', 'none', 'caffe', [7, 5, 12]], // cut at the add, NHWC map
    ['a2', 'avg', 'torch', [12]], // cut after the folded depthwise conv, pooled by capgen
    ['c1', 'none', 'unit', [13, 10, 6]], // a conv whose BN lies outside the cut
  ];
  for (const [layer, pooling, preprocess, shape] of cases) {
    it(`cut at ${layer ?? 'the output'}, pooling ${pooling}, ${preprocess} preprocessing: tfjs features to 1e-4`, async () => {
      const config = { ...DEFAULT_FEATURES_CONFIG, encoder: modelJson, encoderLayer: layer, preprocess, pooling };
      const { diff, shape: got } = await compare(config, testImages(3, 23, 19));
      expect(got).toEqual(shape);
      expect(diff).toBeLessThan(1e-4);
    });
  }

  it('reads Sequential models too (no InputLayer in the topology)', async () => {
    const init = (s: number) => tf.initializers.randomNormal({ seed: s, stddev: 0.4 });
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [12, 10, 3],
          filters: 4,
          kernelSize: 3,
          strides: 2,
          padding: 'valid',
          activation: 'relu',
          kernelInitializer: init(1),
          biasInitializer: init(2),
        }),
        tf.layers.batchNormalization(),
        tf.layers.flatten(),
      ],
    });
    randomizeBatchNorms(model, 3);
    const file = await save(model, path.join(root, 'sequential'));
    model.dispose();
    const { diff, shape } = await compare({ ...DEFAULT_FEATURES_CONFIG, encoder: file, preprocess: 'unit' }, testImages(2, 12, 10));
    expect(shape).toEqual([5 * 4 * 4]);
    expect(diff).toBeLessThan(1e-4);
  });

  it('UpSampling2D and Dense (what export --format onnx needs for seeded-cnn) give the tfjs features to 1e-4', async () => {
    const input = tf.input({ shape: [6, 5, 3] });
    const up = tf.layers.upSampling2d({ name: 'up', size: [2, 3] }).apply(input) as tf.SymbolicTensor;
    const conv = tf.layers
      .conv2d({
        name: 'c',
        filters: 4,
        kernelSize: 3,
        strides: 2,
        activation: 'relu',
        kernelInitializer: tf.initializers.randomNormal({ seed: 5, stddev: 0.4 }),
      })
      .apply(up) as tf.SymbolicTensor;
    const dense = tf.layers
      .dense({
        name: 'd',
        units: 3,
        activation: 'tanh',
        kernelInitializer: tf.initializers.randomNormal({ seed: 6, stddev: 0.5 }),
        biasInitializer: tf.initializers.randomNormal({ seed: 7, stddev: 0.5 }),
      })
      .apply(conv) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.flatten().apply(dense) as tf.SymbolicTensor });
    const file = await save(model, path.join(root, 'upsampling-dense'));
    model.dispose();
    const { diff, shape } = await compare({ ...DEFAULT_FEATURES_CONFIG, encoder: file, preprocess: 'unit' }, testImages(2, 6, 5));
    expect(shape).toEqual([5 * 7 * 3]);
    expect(diff).toBeLessThan(1e-4);
  });

  it('falls back to tfjs for an unsupported layer (auto) and says why; --engine onnx refuses', async () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const cropped = tf.layers.cropping2D({ name: 'crop', cropping: [1, 1] }).apply(input) as tf.SymbolicTensor;
    const model = tf.model({
      inputs: input,
      outputs: tf.layers.conv2d({ name: 'c', filters: 2, kernelSize: 1 }).apply(cropped) as tf.SymbolicTensor,
    });
    const file = await save(model, path.join(root, 'cropping'));
    model.dispose();
    const config = { ...DEFAULT_FEATURES_CONFIG, encoder: file, preprocess: 'unit' as const };
    const auto = await chooseEngine(config, 'auto');
    expect(auto.engine).toBe('tfjs');
    expect(auto.label).toMatch(/Cropping2D/);
    (auto.encoder as { dispose(): void }).dispose();
    await expect(chooseEngine(config, 'onnx')).rejects.toMatchObject({ code: 'BACKEND', message: expect.stringMatching(/Cropping2D/) });
    const seeded = await chooseEngine({ ...DEFAULT_FEATURES_CONFIG, encoder: 'seeded-cnn' }, 'auto');
    expect(seeded.engine).toBe('tfjs');
    (seeded.encoder as { dispose(): void }).dispose();
  });

  describe.skipIf(!HAS_SHARED)('MobileNet v1 0.25 from ../shared', () => {
    it('cut at conv_pw_13_relu gives the tfjs features to 1e-4', async () => {
      const encoder = path.join(SHARED_DIR, 'models', 'mobilenet_v1_0.25_224', 'model.json');
      const config = { ...DEFAULT_FEATURES_CONFIG, encoder, encoderLayer: 'conv_pw_13_relu', preprocess: 'tf' as const };
      const { diff, shape } = await compare(config, testImages(2, 224, 224));
      expect(shape).toEqual([256]);
      expect(diff).toBeLessThan(1e-4);
    });
  });
});
