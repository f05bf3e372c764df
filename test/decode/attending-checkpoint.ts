// Checkpoints for the attention-map tests of caption and serve: the toy attending decoder over a tiny
// tfjs layers encoder cut at a conv layer (16x16 pixels -> 8x8 regions of 4 channels), and a merge
// decoder over the same encoder average-pooled. Registers the toy spec so checkpoints load.
import path from 'node:path';
import { createLayersEncoder } from '../../src/features/encoders/layers-encoder.js';
import { saveCheckpoint } from '../../src/model/checkpoint.js';
import { initialWeights, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { registerDecoder } from '../../src/model/registry.js';
import type { EncoderIdentity } from '../../src/run/formats.js';
import { DEFAULT_CLEANING } from '../../src/text/clean.js';
import { Vocabulary } from '../../src/text/vocabulary.js';
import { writeTinyModel } from '../features/tiny-model.js';
import { attendingSpec, attendingWeights, type AttendingSizes } from './attending-spec.js';

export const ATTENDING_WORDS = 'a dog cat runs on grass red blue ball man woman child plays beach water'.split(' ');

export async function writeAttendingCheckpoints(
  root: string,
  opts: { resize: 'squash' | 'crop' },
): Promise<{ attendingDir: string; mergeDir: string; identity: EncoderIdentity }> {
  registerDecoder(attendingSpec);
  const { modelJson } = await writeTinyModel(path.join(root, 'encoder'), { seed: 3, shards: 1 });
  const encoder = await createLayersEncoder({
    modelJsonPath: modelJson,
    layer: 'features',
    preprocess: 'unit',
    pooling: 'none',
    resize: opts.resize,
  });
  const identity = encoder.identity;
  encoder.dispose();
  const vocab = Vocabulary.build(new Map(ATTENDING_WORDS.map((w) => [w, 1])), 1);
  const common = {
    vocab: vocab.toFile(),
    cleaning: DEFAULT_CLEANING,
    maxCaptionLength: 6,
    trainConfig: {},
    epoch: 1,
    metrics: {},
    createdAt: 'test',
  };
  const sizes: AttendingSizes = { vocabSize: vocab.size, featureSize: 8 * 8 * 4, dropout: 0, height: 8, width: 8, channels: 4 };
  const attendingDir = path.join(root, 'attending');
  const mergeDir = path.join(root, 'merge');
  await saveCheckpoint(attendingDir, {
    meta: { architecture: attendingSpec.architecture, ...sizes, encoder: identity, ...common },
    weights: attendingWeights(sizes, { seed: 2, endBias: 0 }),
  });
  const mergeSizes: MergeLstmSizes = { vocabSize: vocab.size, embeddingSize: 8, hiddenSize: 8, featureSize: 4, dropout: 0 };
  await saveCheckpoint(mergeDir, {
    meta: { architecture: 'merge-lstm', ...mergeSizes, encoder: { ...identity, pooling: 'avg', featureShape: [4] }, ...common },
    weights: initialWeights(mergeSizes, 1),
  });
  return { attendingDir, mergeDir, identity };
}
