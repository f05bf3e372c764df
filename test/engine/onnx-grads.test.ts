// The ONNX Runtime training engine against tfjs' autodiff of the same decoder (test/engine/compare.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { mergeLstm } from '../../src/model/merge-lstm.js';
import type { Example } from '../../src/train/data.js';
import { compareEngines, expectEnginesEqual, maxAbsDiff } from './compare.js';

const examples: Example[] = [
  { imageRow: 0, ids: Int32Array.from([4, 5, 6]) },
  { imageRow: 1, ids: Int32Array.from([7]) },
  { imageRow: 2, ids: Int32Array.from([8, 4, 5, 6, 7]) },
  { imageRow: 1, ids: Int32Array.from([3, 3]) },
];
const sizes = { vocabSize: 9, embeddingSize: 3, hiddenSize: 4, featureSize: 5, dropout: 0.3 };

describe.skipIf(SKIP_ORT)('onnx training engine', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('merge-lstm: loss and gradients equal tfjs autodiff (1e-5), padding captions included', async () => {
    expectEnginesEqual(await compareEngines(mergeLstm, sizes, { examples, featureRows: 3, seed: 7 }), expect);
  });

  it('merge-lstm with label smoothing: gradients equal tfjs autodiff of the smoothed loss', async () => {
    const smoothed = await compareEngines(mergeLstm, sizes, { examples, featureRows: 3, seed: 7, labelSmoothing: 0.1 });
    expectEnginesEqual(smoothed, expect);
    // ...and smoothing really changed them (the comparison can fail).
    const plain = await compareEngines(mergeLstm, sizes, { examples, featureRows: 3, seed: 7 });
    expect(maxAbsDiff(plain.onnx.grads[0], smoothed.onnx.grads[0])).toBeGreaterThan(1e-4);
  });
});
