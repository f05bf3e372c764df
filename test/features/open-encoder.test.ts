// caption and serve rebuild the checkpoint's encoder with openEncoder: on ONNX Runtime when the
// recorded encoder has a graph (the same features as tfjs to float rounding), else on tfjs, saying why.
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { DEFAULT_FEATURES_CONFIG } from '../../src/features/config.js';
import type { BatchEncoder, Encoder } from '../../src/features/encoder.js';
import { openEncoder } from '../../src/features/engine.js';
import { resolveKerasApp } from '../../src/features/encoders/keras-apps.js';
import { createEncoder, embedPixels, loadEncoder } from '../../src/features/load-encoder.js';
import { SKIP_ORT, maxAbsDiff, testImages } from './onnx-helpers.js';

const isBatch = (e: Encoder | BatchEncoder): e is BatchEncoder => 'embedBatch' in e;

describe('openEncoder: the recorded encoder on the fastest engine', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it.skipIf(SKIP_ORT)('a Keras app runs on ONNX Runtime with the tfjs features (1e-4); --engine tfjs keeps tfjs', async () => {
    const inputSize: [number, number] = [45, 38];
    const { identity } = await resolveKerasApp({
      name: 'vgg16',
      weights: 'random',
      seed: 7,
      pooling: 'avg',
      resize: 'squash',
      widthDivisor: 8,
      inputSize,
    });
    const images = testImages(2, ...inputSize);
    const reference = await loadEncoder(identity);
    const expected = embedPixels(reference, images, inputSize);
    reference.dispose();

    const fast = await openEncoder(identity);
    expect(fast.label).toMatch(/^onnx \(onnxruntime-node/);
    if (!isBatch(fast.encoder)) throw new Error('expected the ONNX Runtime encoder');
    const got = await fast.encoder.embedBatch(images);
    const scale = Math.max(...expected.map(Math.abs));
    expect(scale).toBeGreaterThan(0.1);
    expect(maxAbsDiff(got, expected) / Math.max(1, scale)).toBeLessThan(1e-4);
    await fast.encoder.dispose();

    const slow = await openEncoder(identity, { engine: 'tfjs' });
    expect(slow.label).toMatch(/^tfjs/);
    expect(isBatch(slow.encoder)).toBe(false);
    await slow.encoder.dispose();
  });

  it('an encoder without an ONNX graph (the demo CNN) runs on tfjs and the label says why', async () => {
    const demo = await createEncoder({ ...DEFAULT_FEATURES_CONFIG, encoder: 'seeded-cnn', seed: 3 });
    const { identity } = demo;
    demo.dispose();
    const opened = await openEncoder(identity);
    expect(isBatch(opened.encoder)).toBe(false);
    expect(opened.label).toMatch(/^tfjs \(onnx not used: .+\)$/);
    await opened.encoder.dispose();
    await expect(openEncoder(identity, { engine: 'onnx' })).rejects.toMatchObject({ code: 'BACKEND' });
  });
});
