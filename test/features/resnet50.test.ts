// ResNet50 against Keras' layout and an independent plain-array reference: weights files written
// here in Keras' exact HDF5 layout, every weight mapped to its layer, outputs within 1e-4.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import h5wasm from 'h5wasm/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { readKerasH5, writeKerasH5, type KerasWeight } from '../../src/features/encoders/keras-h5.js';
import { loadResNet50 } from '../../src/features/encoders/resnet50/load.js';
import { mapSize } from '../../src/features/encoders/resnet50/resnet50.js';
import { resnet50Spec } from '../../src/features/encoders/resnet50/spec.js';
import { mapResNet50Weights } from '../../src/features/encoders/resnet50/weights.js';
import { tempDir } from '../helpers.js';
import { add, batchNorm, conv2d, globalMean, maxPool, relu, zeroPad, type Map3 } from './reference-convnet.js';

// The architecture as Keras' resnet.py writes it, restated here independently of src/.
const STAGES: [number, number, number][] = [
  [64, 3, 1],
  [128, 4, 2],
  [256, 6, 2],
  [512, 3, 2],
];
interface RefConv {
  name: string;
  k: number;
  stride: number;
  padding: 'same' | 'valid';
  cin: number;
  cout: number;
}
function architecture(div: number): { stem: RefConv; blocks: { shortcut?: RefConv; convs: RefConv[] }[] } {
  const stem: RefConv = { name: 'conv1', k: 7, stride: 2, padding: 'valid', cin: 3, cout: 64 / div };
  const blocks: { shortcut?: RefConv; convs: RefConv[] }[] = [];
  let cin = stem.cout;
  STAGES.forEach(([f, n, s], si) => {
    for (let b = 1; b <= n; b++) {
      const name = `conv${si + 2}_block${b}`;
      const stride = b === 1 ? s : 1;
      const [ff, out] = [f / div, (4 * f) / div];
      blocks.push({
        shortcut: b === 1 ? { name: `${name}_0`, k: 1, stride, padding: 'valid', cin, cout: out } : undefined,
        convs: [
          { name: `${name}_1`, k: 1, stride, padding: 'valid', cin, cout: ff },
          { name: `${name}_2`, k: 3, stride: 1, padding: 'same', cin: ff, cout: ff },
          { name: `${name}_3`, k: 1, stride: 1, padding: 'valid', cin: ff, cout: out },
        ],
      });
      cin = out;
    }
  });
  return { stem, blocks };
}
const convsOf = (a: ReturnType<typeof architecture>) => [
  a.stem,
  ...a.blocks.flatMap((b) => (b.shortcut ? [b.shortcut, ...b.convs] : b.convs)),
];

function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/** Keras' file content for the architecture: conv kernel+bias, BN gamma/beta/mean/variance, plus weightless layers. */
function kerasLayers(div: number, seed: number): { layer: string; weights: KerasWeight[] }[] {
  const rand = lcg(seed);
  const arr = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
  const layers: { layer: string; weights: KerasWeight[] }[] = [
    { layer: 'input_1', weights: [] },
    { layer: 'conv1_pad', weights: [] },
  ];
  for (const c of convsOf(architecture(div))) {
    const lim = Math.sqrt(3 / (c.k * c.k * c.cin));
    layers.push({
      layer: `${c.name}_conv`,
      weights: [
        { name: `${c.name}_conv/kernel:0`, shape: [c.k, c.k, c.cin, c.cout], values: arr(c.k * c.k * c.cin * c.cout, -lim, lim) },
        { name: `${c.name}_conv/bias:0`, shape: [c.cout], values: arr(c.cout, -0.2, 0.2) },
      ],
    });
    layers.push({
      layer: `${c.name}_bn`,
      weights: [
        { name: `${c.name}_bn/gamma:0`, shape: [c.cout], values: arr(c.cout, 0.3, 0.9) },
        { name: `${c.name}_bn/beta:0`, shape: [c.cout], values: arr(c.cout, -0.2, 0.2) },
        { name: `${c.name}_bn/moving_mean:0`, shape: [c.cout], values: arr(c.cout, -0.3, 0.3) },
        { name: `${c.name}_bn/moving_variance:0`, shape: [c.cout], values: arr(c.cout, 0.5, 2) },
      ],
    });
    layers.push({ layer: `${c.name}_relu`, weights: [] });
  }
  return layers;
}

/** The reference forward pass: caffe preprocessing, then Keras ResNet50 on plain arrays. */
function referenceForward(pixels: Float32Array, size: number, div: number, file: { layer: string; weights: KerasWeight[] }[]): Map3 {
  const w = new Map(file.map((l) => [l.layer, l.weights.map((x) => x.values)]));
  const data = new Float64Array(size * size * 3);
  const mean = [103.939, 116.779, 123.68];
  for (let i = 0; i < size * size; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = pixels[i * 3 + (2 - c)] - mean[c];
  const convBn = (x: Map3, c: RefConv, act: boolean): Map3 => {
    const [kernel, bias] = w.get(`${c.name}_conv`) as Float32Array[];
    const [gamma, beta, m, variance] = w.get(`${c.name}_bn`) as Float32Array[];
    const y = batchNorm(conv2d(x, kernel, bias, { k: c.k, stride: c.stride, padding: c.padding, out: c.cout }), {
      gamma,
      beta,
      mean: m,
      variance,
      epsilon: 1.001e-5,
    });
    return act ? relu(y) : y;
  };
  const arch = architecture(div);
  let x: Map3 = { h: size, w: size, c: 3, data };
  x = convBn(zeroPad(x, 3), arch.stem, true);
  x = maxPool(zeroPad(x, 1), 3, 2);
  for (const b of arch.blocks) {
    const short = b.shortcut ? convBn(x, b.shortcut, false) : x;
    let y = convBn(x, b.convs[0], true);
    y = convBn(y, b.convs[1], true);
    y = convBn(y, b.convs[2], false);
    x = relu(add(short, y));
  }
  return x;
}

function expectClose(got: Float32Array, want: ArrayLike<number>, tol: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  expect(worst).toBeLessThan(tol);
}

describe('ResNet50 (Keras layout and numerics)', () => {
  const dir = tempDir('capgen-resnet-');
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('writes the weights file in Keras layout: layer_names, weight_names, <layer>/<layer>/<weight>', async () => {
    const file = path.join(dir, 'layout.h5');
    await writeKerasH5(file, kerasLayers(16, 3).slice(0, 6));
    await h5wasm.ready;
    const h5 = new h5wasm.File(file, 'r');
    try {
      expect(h5.attrs['layer_names'].value).toEqual([
        'input_1',
        'conv1_pad',
        'conv1_conv',
        'conv1_bn',
        'conv1_relu',
        'conv2_block1_0_conv',
      ]);
      expect(h5.attrs['layer_names'].dtype).toMatch(/^S\d+$/); // fixed-length bytes, as h5py writes them
      const bn = h5.get('conv1_bn') as InstanceType<typeof h5wasm.Group>;
      expect(bn.attrs['weight_names'].value).toEqual([
        'conv1_bn/gamma:0',
        'conv1_bn/beta:0',
        'conv1_bn/moving_mean:0',
        'conv1_bn/moving_variance:0',
      ]);
      expect((h5.get('conv1_conv/conv1_conv/kernel:0') as InstanceType<typeof h5wasm.Dataset>).shape).toEqual([7, 7, 3, 4]);
    } finally {
      h5.close();
    }
  });

  it('maps every weight of a full-size file to its layer, none missing or left over', async () => {
    const file = path.join(dir, 'full.h5');
    const layers = kerasLayers(1, 7);
    await writeKerasH5(file, layers);
    const mapped = mapResNet50Weights(resnet50Spec(1), await readKerasH5(file), file);
    const fields = ['kernel', 'bias', 'gamma', 'beta', 'movingMean', 'movingVariance'] as const;
    let checked = 0;
    for (const l of layers) {
      for (const [i, weight] of l.weights.entries()) {
        const conv = l.layer.replace(/_bn$/, '_conv');
        const got = mapped.get(conv)?.[fields[l.layer.endsWith('_bn') ? 2 + i : i]];
        // byte comparison: toEqual on 1M-element typed arrays takes minutes
        expect(got && Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(weight.values.buffer)), weight.name).toBe(
          true,
        );
        checked++;
      }
    }
    expect(checked).toBe(53 * 6); // 53 convolutions (incl. 4 projections), each with kernel, bias and 4 BN arrays
    expect(mapped.size).toBe(53);
    expect(mapped.get('conv5_block3_3_conv')?.kernel.length).toBe(512 * 2048);
  }, 60_000);

  it('refuses a file with a missing weight or with extra (top) weights', async () => {
    const missing = kerasLayers(16, 1);
    const bn = missing.find((l) => l.layer === 'conv4_block2_2_bn') as { weights: KerasWeight[] };
    bn.weights = bn.weights.slice(0, 3);
    await writeKerasH5(path.join(dir, 'missing.h5'), missing);
    const mapMissing = async () => mapResNet50Weights(resnet50Spec(16), await readKerasH5(path.join(dir, 'missing.h5')), 'missing.h5');
    await expect(mapMissing()).rejects.toThrow(/conv4_block2_2_bn\/moving_variance:0 .* missing/);

    const extra = kerasLayers(16, 1);
    extra.push({ layer: 'predictions', weights: [{ name: 'predictions/kernel:0', shape: [128, 10], values: new Float32Array(1280) }] });
    await writeKerasH5(path.join(dir, 'extra.h5'), extra);
    const mapExtra = async () => mapResNet50Weights(resnet50Spec(16), await readKerasH5(path.join(dir, 'extra.h5')), 'extra.h5');
    await expect(mapExtra()).rejects.toThrow(/not part of ResNet50.*predictions/);
  });

  it('matches the plain-array reference to 1e-4 (down-scaled width, 64x64 input), pooled and unpooled, without leaking tensors', async () => {
    const div = 8;
    const size = 64;
    const layers = kerasLayers(div, 11);
    const file = path.join(dir, 'small.h5');
    await writeKerasH5(file, layers);
    const rand = lcg(5);
    const pixels = Float32Array.from({ length: size * size * 3 }, () => Math.floor(rand() * 256));
    const ref = referenceForward(pixels, size, div, layers);
    expect([ref.h, ref.w, ref.c]).toEqual([2, 2, 256]);

    const unpooled = await loadResNet50({
      weights: file,
      seed: 0,
      pooling: 'none',
      resize: 'squash',
      widthDivisor: div,
      inputSize: [size, size],
    });
    const pooled = await loadResNet50({
      weights: file,
      seed: 0,
      pooling: 'avg',
      resize: 'squash',
      widthDivisor: div,
      inputSize: [size, size],
    });
    expect(unpooled.identity.featureShape).toEqual([2, 2, 256]);
    expect(pooled.identity.featureShape).toEqual([256]);
    expect(pooled.identity.preprocess).toBe('caffe');
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(pixels, [1, size, size, 3]);
    const mapOut = unpooled.embed(x);
    const vecOut = pooled.embed(x);
    expectClose(mapOut.dataSync() as Float32Array, ref.data, 1e-4);
    expectClose(vecOut.dataSync() as Float32Array, globalMean(ref), 1e-4);
    tf.dispose([x, mapOut, vecOut]);
    expect(tf.memory().numTensors).toBe(before);
    unpooled.dispose();
    pooled.dispose();
  }, 60_000);

  it('gives the 2048-d / 7x7x2048 shapes at full size, and random weights only when asked', async () => {
    expect(mapSize([224, 224])).toEqual([7, 7]); // Keras' 7x7x2048 map at the default input size
    // The forward pass at full width on a smaller input (the 224 one is the benchmark's job).
    const small = await loadResNet50({ weights: 'random', seed: 4, pooling: 'none', resize: 'squash', inputSize: [64, 64] });
    const out = tf.tidy(() => small.embed(tf.fill([1, 64, 64, 3], 128) as tf.Tensor4D));
    expect(small.identity).toMatchObject({ architecture: 'resnet50', weightsHash: 'random:4', featureShape: [2, 2, 2048] });
    expect(out.shape).toEqual([1, 2, 2, 2048]);
    expect(tf.tidy(() => Number.isFinite(out.sum().dataSync()[0]))).toBe(true);
    out.dispose();
    small.dispose();
  }, 60_000);
});
