// The seeded CNN encoder: deterministic per seed, sensitive to what and where, its colour cells equal
// to a plain average of the pixels, and no tensor leaks.
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { CapgenError } from '../../src/errors.js';
import { createSeededCnnEncoder, seededCnnFeatureLength } from '../../src/features/encoders/seeded-cnn.js';
import type { Scene } from '../../src/synthetic/scene.js';
import { sceneToSvg } from '../../src/synthetic/svg.js';

const SIZE = 64;

/** A scene with one shape, rendered at the encoder's input size: [1, 64, 64, 3] 0..255. */
async function render(shape: Partial<Scene['shapes'][number]>, background: Scene['background'] = 'white'): Promise<Float32Array> {
  const scene: Scene = {
    widthPx: SIZE,
    heightPx: SIZE,
    background,
    gradientAngleDeg: 0,
    shapes: [{ kind: 'circle', colour: 'red', size: 'large', column: 'left', cx: 12, cy: 32, radius: 9, rotationDeg: 0, ...shape }],
  };
  const { data } = await sharp(Buffer.from(sceneToSvg(scene)))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return Float32Array.from(data);
}

function embed(seed: number, pixels: Float32Array[]): Float32Array {
  const encoder = createSeededCnnEncoder({ seed });
  const out = tf.tidy(() => {
    const batch = tf.tensor4d(Float32Array.from(pixels.flatMap((p) => [...p])), [pixels.length, SIZE, SIZE, 3]);
    return encoder.embed(batch).dataSync() as Float32Array;
  });
  encoder.dispose();
  return Float32Array.from(out);
}

function distance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(sum);
}

describe('seeded-cnn encoder', () => {
  let redLeft: Float32Array;
  let redRight: Float32Array;
  let blueLeft: Float32Array;
  let squareLeft: Float32Array;
  beforeAll(async () => {
    await initBackend('wasm');
    redLeft = await render({});
    redRight = await render({ cx: 52, column: 'right' });
    blueLeft = await render({ colour: 'blue' });
    squareLeft = await render({ kind: 'square' });
  });

  it('names itself as seeded and gives one vector of the stated length per image', () => {
    const encoder = createSeededCnnEncoder({ seed: 4 });
    expect(encoder.identity).toMatchObject({
      architecture: 'seeded-cnn',
      weightsHash: 'seeded:4',
      preprocess: 'unit',
      inputSize: [64, 64],
    });
    expect(encoder.identity.featureShape).toEqual([seededCnnFeatureLength()]);
    const shape = tf.tidy(() => encoder.embed(tf.zeros([3, SIZE, SIZE, 3]) as tf.Tensor4D).shape);
    expect(shape).toEqual([3, seededCnnFeatureLength()]);
    encoder.dispose();
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = embed(7, [redLeft]);
    expect(distance(a, embed(7, [redLeft]))).toBe(0);
    expect(distance(a, embed(8, [redLeft]))).toBeGreaterThan(1e-2);
  });

  it('tells colour, position and kind apart, and a batch equals images one by one', () => {
    const batch = embed(1, [redLeft, redRight, blueLeft, squareLeft]);
    const n = seededCnnFeatureLength();
    const rows = [0, 1, 2, 3].map((i) => batch.slice(i * n, (i + 1) * n));
    for (let i = 0; i < 4; i++) {
      for (let j = i + 1; j < 4; j++) expect(distance(rows[i]!, rows[j]!), `images ${i} and ${j}`).toBeGreaterThan(0.1);
    }
    expect(distance(rows[2]!, embed(1, [blueLeft]))).toBeLessThan(1e-4);
  });

  it('ends with the mean RGB of 8x8-pixel cells, as a plain average computes it', () => {
    const features = embed(1, [redRight]);
    const colour = features.slice(features.length - 8 * 8 * 3);
    for (let cy = 0; cy < 8; cy++) {
      for (let cx = 0; cx < 8; cx++) {
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let y = cy * 8; y < cy * 8 + 8; y++) for (let x = cx * 8; x < cx * 8 + 8; x++) sum += redRight[(y * SIZE + x) * 3 + c]!;
          expect(colour[(cy * 8 + cx) * 3 + c]).toBeCloseTo(sum / 64 / 255, 5);
        }
      }
    }
  });

  it('max-pooled grid cells are never below the averaged ones', () => {
    const features = embed(2, [squareLeft]);
    const half = (seededCnnFeatureLength() - 8 * 8 * 3) / 2;
    for (let i = 0; i < half; i++) expect(features[half + i]!).toBeGreaterThanOrEqual(features[i]! - 1e-6);
  });

  it('--pooling none: a 4x4 grid of cells holding the same values (mean, max, 2x2 colour cells) as the vector', () => {
    const flat = embed(5, [redRight, blueLeft]);
    const encoder = createSeededCnnEncoder({ seed: 5, pooling: 'none' });
    expect(encoder.identity).toMatchObject({ pooling: 'none', featureShape: [4, 4, 76] });
    const grid = tf.tidy(
      () => encoder.embed(tf.tensor4d(Float32Array.from([...redRight, ...blueLeft]), [2, SIZE, SIZE, 3])).arraySync() as number[][][][],
    );
    encoder.dispose();
    const n = seededCnnFeatureLength();
    for (let img = 0; img < 2; img++) {
      const v = flat.subarray(img * n, (img + 1) * n);
      for (let r = 0; r < 4; r++) {
        for (let c = 0; c < 4; c++) {
          const cell = grid[img]![r]![c]!;
          for (let k = 0; k < 32; k++) {
            expect(cell[k]).toBeCloseTo(v[(r * 4 + c) * 32 + k]!, 5); // mean block [4, 4, 32]
            expect(cell[32 + k]).toBeCloseTo(v[512 + (r * 4 + c) * 32 + k]!, 5); // max block
          }
          for (let sy = 0; sy < 2; sy++) {
            for (let sx = 0; sx < 2; sx++) {
              for (let ch = 0; ch < 3; ch++)
                expect(cell[64 + (sy * 2 + sx) * 3 + ch]).toBeCloseTo(v[1024 + ((r * 2 + sy) * 8 + c * 2 + sx) * 3 + ch]!, 5);
            }
          }
        }
      }
    }
  });

  it('refuses input sizes that do not fit its grid, and pixels of the wrong size', () => {
    expect(() => createSeededCnnEncoder({ seed: 1, inputSize: [60, 60] })).toThrow(CapgenError);
    const encoder = createSeededCnnEncoder({ seed: 1 });
    expect(() => tf.tidy(() => encoder.embed(tf.zeros([1, 32, 32, 3]) as tf.Tensor4D))).toThrow(/64, 64/);
    encoder.dispose();
  });

  it('leaks no tensors', () => {
    const before = tf.memory().numTensors;
    const encoder = createSeededCnnEncoder({ seed: 3 });
    const input = tf.zeros([2, SIZE, SIZE, 3]) as tf.Tensor4D;
    for (let i = 0; i < 3; i++) encoder.embed(input).dispose();
    input.dispose();
    encoder.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
