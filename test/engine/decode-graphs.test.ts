// The decoder as ONNX init/step graphs (what `capgen export --format onnx` writes and ONNX Runtime
// decoding runs) against the same decoder on tfjs: the same state and log-probabilities, step by step.
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { mergeLstm } from '../../src/model/merge-lstm.js';
import { compareDecoding } from './compare.js';

describe.skipIf(SKIP_ORT)('decoder graphs for ONNX Runtime', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('merge-lstm: init + 6 steps give the tfjs log-probabilities (1e-5)', async () => {
    const sizes = { vocabSize: 11, embeddingSize: 4, hiddenSize: 5, featureSize: 6, dropout: 0.5 };
    const r = await compareDecoding(mergeLstm, sizes, { batch: 3, steps: 6, seed: 4 });
    expect(r.stateCount).toBe(3);
    expect(r.worst).toBeLessThan(1e-5);
  });
});
