// Checkpoint round trip: the same weights and the same predictions come back; damage and encoder
// mismatches are refused with clear errors.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { assertSameEncoder, defaultCheckpointDir, readCheckpoint, saveCheckpoint } from '../../src/model/checkpoint.js';
import { loadCheckpoint } from '../../src/engine/decoder.js';
import { WEIGHT_NAMES, initialWeights, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { MergeLstm } from '../../src/engine/tfjs-decoder.js';
import { DEFAULT_CLEANING } from '../../src/text/clean.js';
import { tempDir } from '../helpers.js';
import { encoderIdentity } from '../train/fixtures.js';

const sizes: MergeLstmSizes = { vocabSize: 11, embeddingSize: 4, hiddenSize: 6, featureSize: 5, dropout: 0.5 };
const vocab = {
  tokens: ['<pad>', '<start>', '<end>', '<unk>', ...'abcdefg'.split('')],
  specials: { pad: 0, start: 1, end: 2, unk: 3 } as const,
  minCount: 1,
};

function meta() {
  return {
    architecture: 'merge-lstm',
    ...sizes,
    vocab,
    cleaning: DEFAULT_CLEANING,
    encoder: encoderIdentity(),
    maxCaptionLength: 9,
    trainConfig: { batchSize: 4 },
    epoch: 3,
    metrics: { valLoss: 1.5 },
    createdAt: 'now',
  };
}

describe('checkpoint', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('round-trips meta, weights, optimizer state and predictions', async () => {
    const run = tempDir();
    const dir = defaultCheckpointDir(run);
    expect(dir).toBe(path.join(run, 'train', 'best'));
    const weights = initialWeights(sizes, 4);
    const m = WEIGHT_NAMES.map((n) => weights[n].map((x) => x * 2));
    const v = WEIGHT_NAMES.map((n) => weights[n].map((x) => x * x));
    await saveCheckpoint(dir, { meta: meta(), weights, optimizer: { step: 17, m, v } });
    const back = await readCheckpoint(dir);
    for (const n of WEIGHT_NAMES) expect(back.weights[n]).toEqual(weights[n]);
    expect(back.optimizer!.step).toBe(17);
    back.optimizer!.m.forEach((a, i) => expect(a).toEqual(m[i]));
    back.optimizer!.v.forEach((a, i) => expect(a).toEqual(v[i]));
    expect(back.meta).toMatchObject({
      architecture: 'merge-lstm',
      vocab,
      encoder: encoderIdentity(),
      maxCaptionLength: 9,
      epoch: 3,
      hiddenSize: 6,
    });

    const original = new MergeLstm(sizes, weights);
    const { model } = await loadCheckpoint(dir);
    const feats = tf.tensor2d([[0.1, -0.2, 0.3, 0.4, -0.5]]);
    const tok = tf.tensor1d([1], 'int32');
    const predict = (mm: { initState: MergeLstm['initState']; step: MergeLstm['step'] }) =>
      tf.tidy(() => mm.step(tok, mm.initState(feats)).logProbs.arraySync());
    expect(predict(model)).toEqual(predict(original));
    tf.dispose([feats, tok]);
    model.dispose();
    original.dispose();
  });

  it('refuses a truncated weights file and a missing checkpoint', async () => {
    const dir = path.join(tempDir(), 'ck');
    await saveCheckpoint(dir, { meta: meta(), weights: initialWeights(sizes, 1) });
    const file = path.join(dir, 'weights.bin');
    const buf = await fs.readFile(file);
    await fs.writeFile(file, buf.subarray(0, buf.length - 8));
    await expect(readCheckpoint(dir)).rejects.toMatchObject({ code: 'BAD_INPUT', file });
    await expect(readCheckpoint(path.join(dir, 'nope'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses features from a different encoder, naming the difference', () => {
    expect(() => assertSameEncoder(encoderIdentity(), encoderIdentity({ source: 'elsewhere/model.json' }), 'x')).not.toThrow();
    expect(() => assertSameEncoder(encoderIdentity(), encoderIdentity({ preprocess: 'caffe' }), 'ck/checkpoint.json')).toThrow(
      /preprocess "unit" vs "caffe"/,
    );
  });
});
