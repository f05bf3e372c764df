// ResNet50 as an ONNX graph against the tfjs ResNet50 (itself checked against a plain-array reference
// in resnet50.test.ts): a narrow copy with random weights, both poolings, same identity, to 1e-4.
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { embedPixels } from '../../src/features/load-encoder.js';
import { createOnnxEncoder } from '../../src/features/onnx/onnx-encoder.js';
import { resnet50Graph } from '../../src/features/onnx/resnet50-graph.js';
import { resnet50Identity } from '../../src/features/encoders/resnet50/resnet50.js';
import { loadResNet50, resolveResNet50 } from '../../src/features/encoders/resnet50/load.js';
import { SKIP_ORT, maxAbsDiff, testImages } from './onnx-helpers.js';

describe.skipIf(SKIP_ORT)('ResNet50 on ONNX Runtime', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  // 70x45: odd sizes, so 'same' padding and the strided 1x1 convolutions meet uneven edges.
  for (const pooling of ['avg', 'none'] as const) {
    it(`gives the tfjs features (pooling ${pooling}) and the same identity`, async () => {
      const opts = {
        weights: 'random',
        seed: 11,
        pooling,
        resize: 'squash' as const,
        widthDivisor: 16,
        inputSize: [70, 45] as [number, number],
      };
      const tfjs = await loadResNet50(opts);
      const parts = await resolveResNet50(opts);
      const onnx = await createOnnxEncoder(resnet50Graph({ ...parts, inputSize: parts.identity.inputSize }), resnet50Identity(parts), {
        threads: 1,
      });
      try {
        expect(onnx.identity).toEqual(tfjs.identity);
        expect(onnx.identity.featureShape).toEqual(pooling === 'avg' ? [128] : [3, 2, 128]);
        const images = testImages(3, 70, 45);
        const expected = embedPixels(tfjs, images, [70, 45]);
        const got = await onnx.embedBatch(images);
        expect(got.length).toBe(expected.length);
        expect(Math.max(...expected.map(Math.abs))).toBeGreaterThan(0.5); // not a trivially small output
        expect(maxAbsDiff(got, expected)).toBeLessThan(1e-4);
        // Batch independence: one image alone gives its row of the batch.
        const dim = expected.length / 3;
        expect(maxAbsDiff(await onnx.embedBatch([images[1]]), got.subarray(dim, 2 * dim))).toBeLessThan(1e-5);
      } finally {
        tfjs.dispose();
        await onnx.dispose();
      }
    });
  }
});
