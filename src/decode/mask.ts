// Which tokens search may emit: never start, pad or unknown; at the length limit, only the end token.
import * as tf from '@tensorflow/tfjs';
import { SPECIAL_IDS } from '../run/formats.js';

/** [V] additive mask: -Infinity for pad, start and unk, 0 elsewhere. */
export function wordMask(vocabSize: number): tf.Tensor1D {
  const mask = new Float32Array(vocabSize);
  for (const id of [SPECIAL_IDS.pad, SPECIAL_IDS.start, SPECIAL_IDS.unk]) if (id < vocabSize) mask[id] = -Infinity;
  return tf.tensor1d(mask, 'float32');
}

/** [V] additive mask that leaves only the end token: used once a caption has maxLength words. */
export function endOnlyMask(vocabSize: number): tf.Tensor1D {
  const mask = new Float32Array(vocabSize).fill(-Infinity);
  mask[SPECIAL_IDS.end] = 0;
  return tf.tensor1d(mask, 'float32');
}
