// Greedy search: at every step each caption takes its most likely next word. One model call per
// step for the whole batch; captions that have ended are dropped from the batch (their rows gathered out).
import * as tf from '@tensorflow/tfjs';
import type { StepDecoder } from '../model/step-decoder.js';
import { SPECIAL_IDS } from '../run/formats.js';
import { endOnlyMask, wordMask } from './mask.js';
import type { Hypothesis } from './types.js';

/**
 * Greedy captions for a batch of images. features [B, ...featureShape] -> one hypothesis per image.
 * A caption has at most maxLength words: at step maxLength only the end token may follow.
 * The caller keeps ownership of `features`.
 */
export function greedySearch(model: StepDecoder, features: tf.Tensor, maxLength: number): Hypothesis[] {
  const count = features.shape[0];
  const words: number[][] = Array.from({ length: count }, () => []);
  const logProbs = new Float64Array(count);
  const results: Hypothesis[] = new Array(count);
  // active[r] = the image whose caption is decoded in row r of the current batch
  let active = Array.from({ length: count }, (_, i) => i);
  const masks = { words: wordMask(model.vocabSize), endOnly: endOnlyMask(model.vocabSize) };
  let state = model.initState(features as tf.Tensor2D);
  let tokens: tf.Tensor1D = tf.tensor1d(new Int32Array(count).fill(SPECIAL_IDS.start), 'int32');
  try {
    for (let t = 0; t <= maxLength && active.length > 0; t++) {
      const mask = t === maxLength ? masks.endOnly : masks.words;
      const [chosen, best, ...next] = tf.tidy(() => {
        const out = model.step(tokens, state);
        const masked = tf.add(out.logProbs, mask); // [rows, V]
        return [tf.argMax(masked, 1).toInt(), tf.max(masked, 1), ...out.state];
      });
      tf.dispose([tokens, ...state]);
      const ids = chosen.dataSync();
      const values = best.dataSync();
      best.dispose();
      const keep: number[] = [];
      for (let r = 0; r < active.length; r++) {
        const image = active[r];
        logProbs[image] += values[r];
        if (ids[r] === SPECIAL_IDS.end) {
          results[image] = { tokens: words[image], logProb: logProbs[image], score: logProbs[image], length: t + 1 };
        } else {
          words[image].push(ids[r]);
          keep.push(r);
        }
      }
      if (keep.length === active.length) {
        tokens = chosen as tf.Tensor1D;
        state = next;
      } else {
        const rows = tf.tensor1d(keep, 'int32');
        tokens = tf.gather(chosen, rows) as tf.Tensor1D;
        state = next.map((s) => tf.gather(s, rows));
        tf.dispose([rows, chosen, ...next]);
      }
      active = keep.map((r) => active[r]);
    }
  } finally {
    tf.dispose([tokens, ...state, masks.words, masks.endOnly]);
  }
  return results;
}
