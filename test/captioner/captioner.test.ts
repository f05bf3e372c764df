// The trained captioner (src/captioner/captioner.ts): one checkpoint folder read once into everything
// caption, eval, serve and export use.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { describeEncoder, loadTrainedCaptioner } from '../../src/captioner/captioner.js';
import { DEFAULT_CLEANING } from '../../src/text/clean.js';
import { tempDir } from '../helpers.js';
import { CAPTION_WORDS, writeMergeCheckpoint } from '../caption/merge-checkpoint.js';

describe('trained captioner', () => {
  const dir = path.join(tempDir('capgen-captioner-'), 'ckpt');

  beforeAll(async () => {
    await initBackend('wasm');
    (await writeMergeCheckpoint(dir)).dispose();
  });

  it('reads checkpoint, vocabulary, cleaning rules and decoding options from one folder, and frees what it built', async () => {
    const before = tf.memory().numTensors;
    const captioner = await loadTrainedCaptioner(dir, { engine: 'tfjs' });
    try {
      expect(captioner.engine).toBe('tfjs');
      expect(captioner.metaFile).toBe(path.join(dir, 'checkpoint.json'));
      expect(captioner.vocab.size).toBe(CAPTION_WORDS.length + 4); // the words and pad, start, end, unk
      expect(captioner.cleaning).toEqual(DEFAULT_CLEANING);
      expect(captioner.decodeOptions({ beamSize: 3, lengthPenalty: 0.2, blockNgrams: 0 })).toEqual({
        maxLength: 7,
        beamSize: 3,
        lengthPenalty: 0.2,
        blockNgrams: 0,
      });
      expect(captioner.words([captioner.vocab.idOf('dog'), captioner.vocab.idOf('runs')])).toBe('dog runs');
      expect(captioner.attention).toEqual({ reason: expect.stringMatching(/merge-lstm decoder does not attend/) });
      expect(describeEncoder(captioner.meta.encoder)).toMatch(/^seeded-cnn/);
    } finally {
      captioner.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
