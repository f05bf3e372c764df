// A tiny merge-decoder checkpoint over the seeded CNN encoder, for the caption tests: weights scaled so
// that different images get different captions of a few words.
import { createEncoder } from '../../src/features/load-encoder.js';
import { DEFAULT_FEATURES_CONFIG } from '../../src/features/config.js';
import type { Encoder } from '../../src/features/encoder.js';
import { saveCheckpoint } from '../../src/model/checkpoint.js';
import { initialWeights, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { DEFAULT_CLEANING } from '../../src/text/clean.js';
import { Vocabulary } from '../../src/text/vocabulary.js';

export const CAPTION_WORDS = 'a dog cat runs on grass red blue ball man woman child plays beach water'.split(' ');

/** Writes the checkpoint into `checkpointDir`; returns the encoder (the caller disposes it). */
export async function writeMergeCheckpoint(checkpointDir: string): Promise<Encoder> {
  const encoder = await createEncoder({ ...DEFAULT_FEATURES_CONFIG, encoder: 'seeded-cnn', seed: 4 });
  const vocab = Vocabulary.build(new Map(CAPTION_WORDS.map((w) => [w, 1])), 1);
  const sizes: MergeLstmSizes = {
    vocabSize: vocab.size,
    embeddingSize: 8,
    hiddenSize: 16,
    featureSize: encoder.identity.featureShape[0],
    dropout: 0,
  };
  const weights = initialWeights(sizes, 2);
  weights['output.kernel'] = weights['output.kernel'].map((x) => x * 8);
  weights['image.kernel'] = weights['image.kernel'].map((x) => x * 20);
  weights['output.bias'][2] = 2; // the end token: captions of a few words
  const meta = {
    architecture: 'merge-lstm',
    ...sizes,
    vocab: vocab.toFile(),
    cleaning: DEFAULT_CLEANING,
    encoder: encoder.identity,
    maxCaptionLength: 7,
    trainConfig: {},
    epoch: 1,
    metrics: {},
    createdAt: 'test',
  };
  await saveCheckpoint(checkpointDir, { meta, weights });
  return encoder;
}
