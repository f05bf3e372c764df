// DenseNet201, VGG16 and InceptionV3 against Keras: parameter counts and layer names of
// keras.applications.X(include_top=False), weights files in Keras' h5 layout (synthetic, narrow),
// plain-array references (VGG16, DenseNet, and a small graph of the new layer types: average pooling
// 'same'/'valid', concatenation, BatchNorm without scale), and the ONNX engine equal to tfjs to 1e-4.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { DEFAULT_FEATURES_CONFIG } from '../../src/features/config.js';
import { chooseEngine } from '../../src/features/engine.js';
import { densenet201Graph } from '../../src/features/encoders/densenet201/densenet201.js';
import { inceptionv3Graph } from '../../src/features/encoders/inceptionv3/inceptionv3.js';
import {
  KERAS_APPS,
  createKerasAppEncoder,
  loadKerasApp,
  mapKerasAppWeights,
  randomKerasAppWeights,
  resolveKerasApp,
  toKerasH5Layers,
  type KerasAppName,
} from '../../src/features/encoders/keras-apps.js';
import { KerasGraphBuilder, parameterCount, weightedLayers } from '../../src/features/encoders/keras-graph.js';
import { readKerasH5, writeKerasH5, type KerasWeights } from '../../src/features/encoders/keras-h5.js';
import { vgg16Graph } from '../../src/features/encoders/vgg16/vgg16.js';
import { embedPixels, loadEncoder } from '../../src/features/load-encoder.js';
import { createOnnxEncoder, kerasAppGraph } from '../../src/features/onnx/onnx-encoder.js';
import { readFileSync } from 'node:fs';
import type { PrepareRecord } from '../../src/run/formats.js';
import { runCli, tempDir } from '../helpers.js';
import { SKIP_ORT, maxAbsDiff, testImages } from './onnx-helpers.js';
import { avgPool, batchNorm, concat, conv2d, globalMean, maxPool, relu, zeroPad, type Map3 } from './reference-convnet.js';

/** One image as a plain-array map with Keras' preprocessing applied. */
function preprocessed(pixels: Uint8Array, h: number, w: number, mode: 'caffe' | 'torch' | 'tf'): Map3 {
  const data = new Float64Array(h * w * 3);
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const bgrMean = [103.939, 116.779, 123.68];
  for (let i = 0; i < h * w; i++)
    for (let c = 0; c < 3; c++) {
      if (mode === 'caffe') data[i * 3 + c] = pixels[i * 3 + (2 - c)] - bgrMean[c];
      else if (mode === 'torch') data[i * 3 + c] = (pixels[i * 3 + c] / 255 - mean[c]) / std[c];
      else data[i * 3 + c] = pixels[i * 3 + c] / 127.5 - 1;
    }
  return { h, w, c: 3, data };
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  expect(worst).toBeLessThan(tol);
}

describe('Keras Applications encoders: architecture as Keras builds it', () => {
  it("has Keras' parameter counts, output sizes and layer counts (include_top=False)", () => {
    const densenet = densenet201Graph([224, 224]);
    const vgg = vgg16Graph([224, 224]);
    const inception = inceptionv3Graph([299, 299]);
    expect(parameterCount(densenet)).toBe(18_321_984);
    expect(parameterCount(vgg)).toBe(14_714_688);
    expect(parameterCount(inception)).toBe(21_802_784);
    expect(densenet.outputShape).toEqual([7, 7, 1920]);
    expect(vgg.outputShape).toEqual([7, 7, 512]);
    expect(inception.outputShape).toEqual([8, 8, 2048]);
    // len(model.layers) in Keras, input layer included
    expect([densenet, vgg, inception].map((g) => g.modelTopology.config.layers.length)).toEqual([707, 19, 311]);
  });

  it('names the weighted layers as the h5 groups of the Keras files', () => {
    const vgg = weightedLayers(vgg16Graph([224, 224]));
    expect(vgg).toEqual([1, 2, 3, 4, 5].flatMap((b) => Array.from({ length: b < 3 ? 2 : 3 }, (_, i) => `block${b}_conv${i + 1}`)));
    const densenet = weightedLayers(densenet201Graph([224, 224]));
    expect(densenet.slice(0, 6)).toEqual([
      'conv1_conv',
      'conv1_bn',
      'conv2_block1_0_bn',
      'conv2_block1_1_conv',
      'conv2_block1_1_bn',
      'conv2_block1_2_conv',
    ]);
    expect(densenet).toContain('conv4_block48_2_conv');
    expect(densenet).toContain('pool4_conv');
    expect(densenet.slice(-2)).toEqual(['conv5_block32_2_conv', 'bn']);
    expect(densenet.length).toBe(2 + 98 * 4 + 3 * 2 + 1);
    const inception = weightedLayers(inceptionv3Graph([299, 299]));
    expect(inception).toEqual(Array.from({ length: 94 }, (_, i) => [`conv2d_${i + 1}`, `batch_normalization_${i + 1}`]).flat());
    // InceptionV3's BatchNormalization has no scale: beta, moving_mean, moving_variance only
    expect(
      inceptionv3Graph([299, 299])
        .weights.filter((w) => w.layer === 'batch_normalization_1')
        .map((w) => w.name),
    ).toEqual(['batch_normalization_1/beta:0', 'batch_normalization_1/moving_mean:0', 'batch_normalization_1/moving_variance:0']);
  });

  it("reads the names of other Keras versions: DenseNet's conv1/conv and auto names numbered from 0 or any offset", () => {
    const graph = inceptionv3Graph([75, 75], 16);
    const weights = randomKerasAppWeights(graph, 3);
    // tf.keras 2 names: conv2d, conv2d_1, ... batch_normalization, ... (one less than Keras 2.0's)
    const file: KerasWeights = new Map(
      toKerasH5Layers(graph, weights).map(({ layer, weights: ws }) => {
        const renamed = layer.replace(/_(\d+)$/, (_, n) => (n === '1' ? '' : `_${Number(n) - 1}`));
        return [renamed, ws.map((w) => ({ ...w, name: w.name.replace(layer, renamed) }))];
      }),
    );
    const mapped = mapKerasAppWeights(graph, file, { fileName: 'x.h5', app: KERAS_APPS.inceptionv3 });
    expect(mapped.get('conv2d_10/kernel')?.values).toBe(weights.get('conv2d_10/kernel')?.values);
    expect(mapped.get('batch_normalization_94/beta')?.values).toBe(weights.get('batch_normalization_94/beta')?.values);
  });

  it('refuses a file with a missing, misshapen or extra weight, naming it', () => {
    const graph = vgg16Graph([32, 32], 16);
    const layers = toKerasH5Layers(graph, randomKerasAppWeights(graph, 1));
    const asFile = (ls: typeof layers): KerasWeights => new Map(ls.map((l) => [l.layer, l.weights]));
    const map = (ls: typeof layers) => mapKerasAppWeights(graph, asFile(ls), { fileName: 'w.h5', app: KERAS_APPS.vgg16 });
    expect(() => map(layers.slice(1))).toThrow(/block1_conv1\/kernel:0 of layer block1_conv1 is missing/);
    const bad = layers.map((l) =>
      l.layer === 'block3_conv2' ? { ...l, weights: [{ ...l.weights[0], shape: [1, 9, 16, 16] }, l.weights[1]] } : l,
    );
    expect(() => map(bad)).toThrow(/block3_conv2\/kernel:0 has shape \[1,9,16,16\]/);
    const top = [...layers, { layer: 'fc1', weights: [{ name: 'fc1/kernel:0', shape: [2, 2], values: new Float32Array(4) }] }];
    expect(() => map(top)).toThrow(/not part of VGG16 \(no top\), e\.g\. fc1\/kernel/);
  });
});

describe('Keras Applications encoders: numerics', () => {
  const dir = tempDir('capgen-keras-apps-');
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('VGG16 from a Keras-layout h5 equals the plain-array reference (narrow, 36x44)', async () => {
    const [h, w] = [36, 44];
    const graph = vgg16Graph([h, w], 16);
    const weights = randomKerasAppWeights(graph, 5);
    const file = path.join(dir, 'vgg16.h5');
    await writeKerasH5(file, [{ layer: 'input_1', weights: [] }, ...toKerasH5Layers(graph, weights)]);
    const encoder = await loadKerasApp({
      name: 'vgg16',
      weights: file,
      seed: 0,
      pooling: 'none',
      resize: 'squash',
      widthDivisor: 16,
      inputSize: [h, w],
    });
    const [image] = testImages(1, h, w);
    // The architecture restated: (filters, convolutions) per block, 3x3 same + ReLU, then 2x2 max pool.
    let x = preprocessed(image, h, w, 'caffe');
    [
      [4, 2],
      [8, 2],
      [16, 3],
      [32, 3],
      [32, 3],
    ].forEach(([filters, n], b) => {
      for (let i = 1; i <= n; i++) {
        const name = `block${b + 1}_conv${i}`;
        x = relu(
          conv2d(x, weights.get(`${name}/kernel`)!.values, weights.get(`${name}/bias`)!.values, {
            k: 3,
            stride: 1,
            padding: 'same',
            out: filters,
          }),
        );
      }
      x = maxPool(x, 2, 2);
    });
    expect([x.h, x.w, x.c]).toEqual([1, 1, 32]);
    expect(encoder.identity).toMatchObject({ architecture: 'vgg16', preprocess: 'caffe', layer: 'block5_pool', featureShape: [1, 1, 32] });
    expectClose(embedPixels(encoder, [image], [h, w]), x.data, 1e-4);
    encoder.dispose();
  });

  it('DenseNet201 from a Keras-2 h5 (conv1/conv groups) equals the plain-array reference (narrow, 40x40), without leaking tensors', async () => {
    const size = 40;
    const div = 8;
    const graph = densenet201Graph([size, size], div);
    const weights = randomKerasAppWeights(graph, 9);
    const file = path.join(dir, 'densenet.h5');
    const keras2 = toKerasH5Layers(graph, weights).map((l) =>
      l.layer.startsWith('conv1_')
        ? { layer: l.layer.replace('_', '/'), weights: l.weights.map((x) => ({ ...x, name: x.name.replace('_', '/') })) }
        : l,
    );
    await writeKerasH5(file, keras2);
    expect([...(await readKerasH5(file)).keys()].slice(0, 2)).toEqual(['conv1/conv', 'conv1/bn']);
    const get = (k: string) => weights.get(k)!.values;
    const bnRelu = (x: Map3, bn: string) =>
      relu(
        batchNorm(x, {
          gamma: get(`${bn}/gamma`),
          beta: get(`${bn}/beta`),
          mean: get(`${bn}/moving_mean`),
          variance: get(`${bn}/moving_variance`),
          epsilon: 1.001e-5,
        }),
      );
    const zeros = (n: number) => new Float32Array(n);
    const [image] = testImages(1, size, size);
    let x = preprocessed(image, size, size, 'torch');
    x = bnRelu(conv2d(zeroPad(x, 3), get('conv1_conv/kernel'), zeros(8), { k: 7, stride: 2, padding: 'valid', out: 8 }), 'conv1_bn');
    x = maxPool(zeroPad(x, 1), 3, 2);
    [6, 12, 48, 32].forEach((blocks, s) => {
      for (let i = 1; i <= blocks; i++) {
        const name = `conv${s + 2}_block${i}`;
        let y = conv2d(bnRelu(x, `${name}_0_bn`), get(`${name}_1_conv/kernel`), zeros(16), { k: 1, stride: 1, padding: 'valid', out: 16 });
        y = conv2d(bnRelu(y, `${name}_1_bn`), get(`${name}_2_conv/kernel`), zeros(4), { k: 3, stride: 1, padding: 'same', out: 4 });
        x = concat([x, y]);
      }
      if (s < 3) {
        const out = Math.floor(x.c / 2);
        x = avgPool(
          conv2d(bnRelu(x, `pool${s + 2}_bn`), get(`pool${s + 2}_conv/kernel`), zeros(out), { k: 1, stride: 1, padding: 'valid', out }),
          2,
          2,
          'valid',
        );
      }
    });
    x = bnRelu(x, 'bn');
    expect([x.h, x.w, x.c]).toEqual([1, 1, 240]); // 1920 / 8
    const encoder = await loadKerasApp({
      name: 'densenet201',
      weights: file,
      seed: 0,
      pooling: 'avg',
      resize: 'squash',
      widthDivisor: div,
      inputSize: [size, size],
    });
    expect(encoder.identity).toMatchObject({ architecture: 'densenet201', preprocess: 'torch', layer: 'relu', featureShape: [240] });
    const before = tf.memory().numTensors;
    const input = tf.tensor4d(Float32Array.from(image), [1, size, size, 3]);
    const out = encoder.embed(input);
    expectClose(out.dataSync() as Float32Array, globalMean(x), 1e-4);
    tf.dispose([input, out]);
    expect(tf.memory().numTensors).toBe(before);
    encoder.dispose();
  }, 30_000);

  it('the new layer kinds (avg pool same/valid, concat, BN without scale, padded max pool) equal a plain-array reference on both engines', async () => {
    const g = new KerasGraphBuilder('tiny', [9, 7]);
    const c0 = g.conv('input_1', { name: 'c0', filters: 4, kernel: [3, 3], padding: 'same', useBias: false });
    const b0 = g.relu(g.batchNorm(c0, { name: 'bn0', epsilon: 1e-3, scale: false }), 'r0');
    const a = g.pool('avg', b0, { name: 'ap_same', size: 3, strides: 1, padding: 'same' });
    const c1 = g.conv(b0, { name: 'c1', filters: 3, kernel: [1, 1], activation: 'relu' });
    const cat = g.concat([a, c1, b0], 'cat');
    const d = g.pool('avg', cat, { name: 'ap_valid', size: 2, strides: 2 });
    const e = g.pool('max', g.zeroPad(d, 'pad', 1), { name: 'mp', size: 3, strides: 2 });
    const graph = g.finish(e);
    const weights = randomKerasAppWeights(graph, 21);
    const identity = {
      architecture: 'tiny',
      weightsHash: 'random:21',
      layer: e,
      preprocess: 'tf' as const,
      resize: 'squash' as const,
      pooling: 'none' as const,
      inputSize: [9, 7] as [number, number],
      featureShape: [...graph.outputShape],
    };
    const parts = { app: KERAS_APPS.inceptionv3, graph, weights, identity };
    const get = (k: string) => weights.get(k)!.values;
    const images = testImages(2, 9, 7);
    const reference = images.flatMap((img) => {
      let x = conv2d(preprocessed(img, 9, 7, 'tf'), get('c0/kernel'), new Float32Array(4), { k: 3, stride: 1, padding: 'same', out: 4 });
      x = relu(
        batchNorm(x, {
          gamma: new Float32Array(4).fill(1),
          beta: get('bn0/beta'),
          mean: get('bn0/moving_mean'),
          variance: get('bn0/moving_variance'),
          epsilon: 1e-3,
        }),
      );
      const y = concat([
        avgPool(x, 3, 1, 'same'),
        relu(conv2d(x, get('c1/kernel'), get('c1/bias'), { k: 1, stride: 1, padding: 'valid', out: 3 })),
        x,
      ]);
      const out = maxPool(zeroPad(avgPool(y, 2, 2, 'valid'), 1), 3, 2);
      return [...out.data];
    });
    expect(graph.outputShape).toEqual([2, 2, 11]);
    const tfjs = await createKerasAppEncoder(parts);
    expectClose(embedPixels(tfjs, images, [9, 7]), reference, 1e-4);
    tfjs.dispose();
    if (!SKIP_ORT) {
      const built = kerasAppGraph(parts);
      if (!('model' in built)) throw new Error(built.reason);
      const onnx = await createOnnxEncoder(built.model, identity, { threads: 1 });
      expectClose(await onnx.embedBatch(images), reference, 1e-4);
      await onnx.dispose();
    }
  });

  // Narrow copies on odd input sizes ('same' padding and strided windows meet uneven edges).
  const cases: [KerasAppName, number, [number, number]][] = [
    ['vgg16', 8, [45, 38]],
    ['densenet201', 8, [45, 38]],
    ['inceptionv3', 8, [83, 77]],
  ];
  for (const [name, widthDivisor, inputSize] of cases) {
    it.skipIf(SKIP_ORT)(
      `${name}: the ONNX engine gives the tfjs features to 1e-4, pooled and unpooled, and a recorded identity rebuilds it`,
      async () => {
        for (const pooling of ['avg', 'none'] as const) {
          const opts = { name, weights: 'random', seed: 7, pooling, resize: 'squash' as const, widthDivisor, inputSize };
          const parts = await resolveKerasApp(opts);
          const tfjs = await createKerasAppEncoder(parts);
          const built = kerasAppGraph(parts);
          if (!('model' in built)) throw new Error(built.reason);
          const onnx = await createOnnxEncoder(built.model, built.identity, { threads: 1 });
          const images = testImages(2, ...inputSize);
          const expected = embedPixels(tfjs, images, inputSize);
          const got = await onnx.embedBatch(images);
          const scale = Math.max(...expected.map(Math.abs));
          expect(scale).toBeGreaterThan(0.1); // not a vanishing output
          expect(maxAbsDiff(got, expected) / Math.max(1, scale)).toBeLessThan(1e-4);
          const rebuilt = await loadEncoder(tfjs.identity);
          expect(maxAbsDiff(embedPixels(rebuilt, images, inputSize), expected)).toBe(0);
          [tfjs, rebuilt].forEach((e) => e.dispose());
          await onnx.dispose();
        }
      },
      30_000,
    );
  }

  // Full size for one network only (the others' narrow copies above use the same ONNX operators).
  it.skipIf(SKIP_ORT)(
    '--engine auto picks ONNX Runtime at full size, with the Keras feature size',
    async () => {
      for (const [name, dim] of [['densenet201', 1920]] as const) {
        const chosen = await chooseEngine({ ...DEFAULT_FEATURES_CONFIG, encoder: name, weights: 'random' }, 'auto');
        expect(chosen.label, name).toMatch(/^onnx \(/);
        expect(chosen.encoder.identity).toMatchObject({
          architecture: name,
          preprocess: KERAS_APPS[name].preprocess,
          inputSize: KERAS_APPS[name].inputSize,
          featureShape: [dim],
        });
        await chosen.encoder.dispose();
      }
    },
    60_000,
  );

  it('refuses another --preprocess, naming the one Keras uses', async () => {
    await expect(
      chooseEngine({ ...DEFAULT_FEATURES_CONFIG, encoder: 'inceptionv3', weights: 'random', preprocess: 'caffe' }, 'auto'),
    ).rejects.toThrow(/InceptionV3 uses Keras' tf preprocessing/);
  });

  // CPU-cheap (~4 CPU-s) but slow in wall time on a loaded machine: two node start-ups and VGG16 at 224x224.
  it.skipIf(SKIP_ORT)(
    'capgen prepare --encoder vgg16 (built CLI): auto runs ONNX and records the identity',
    async () => {
      const out = path.join(dir, 'run-vgg16');
      const ok = await runCli([
        'prepare',
        '--dataset',
        'synthetic',
        '--count',
        '4',
        '--data',
        path.join(dir, 'data'),
        '--encoder',
        'vgg16',
        '--weights',
        'random',
        '--out',
        out,
      ]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stderr).toMatch(/features: vgg16 \(block5_pool, caffe, squash, pooling avg\) -> \[512\].*engine onnx/);
      const record = JSON.parse(readFileSync(path.join(out, 'prepare.json'), 'utf8')) as PrepareRecord;
      expect(record.features?.encoder).toMatchObject({
        architecture: 'vgg16',
        weightsHash: 'random:1',
        inputSize: [224, 224],
        featureShape: [512],
      });
    },
    180_000,
  );

  it('a missing --weights file is a NOT_FOUND error naming the network and the file', async () => {
    const file = path.join(dir, 'nope.h5');
    await expect(chooseEngine({ ...DEFAULT_FEATURES_CONFIG, encoder: 'vgg16', weights: file }, 'auto')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      file,
      message: expect.stringMatching(/VGG16 weights file not found/),
    });
  });
});
