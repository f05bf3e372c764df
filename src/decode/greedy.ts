// Greedy search: at every step each caption takes its most likely allowed next word. One model call
// per step for the whole batch; captions that have ended are dropped from the batch (rows gathered out).
import type * as tf from '@tensorflow/tfjs';
import type { StepDecoder } from '../model/step-decoder.js';
import { SPECIAL_IDS } from '../run/formats.js';
import { attentionRow } from './attention.js';
import { allowedTokens } from './candidates.js';
import { repeatedNgramTokens } from './repeats.js';
import { startSearch } from './search-steps.js';
import type { DecodeOptions, Hypothesis } from './types.js';

export type GreedyOptions = Pick<DecodeOptions, 'maxLength' | 'attention' | 'blockNgrams'>;

/**
 * Greedy captions for a batch of images. features [B, ...featureShape] -> one hypothesis per image
 * (score = logProb). A caption has at most maxLength words: at step maxLength only the end token
 * may follow. With `attention`, each hypothesis carries its words' attention rows. The caller keeps
 * ownership of `features`.
 */
export function greedySearch(model: StepDecoder, features: tf.Tensor, options: number | GreedyOptions): Hypothesis[] {
  const { maxLength, attention: wantAttention, blockNgrams = 0 } = typeof options === 'number' ? { maxLength: options } : options;
  const count = features.shape[0];
  const words: number[][] = Array.from({ length: count }, () => []);
  const maps: number[][][] | undefined = wantAttention ? Array.from({ length: count }, () => []) : undefined;
  const logProbs = new Float64Array(count);
  const results: Hypothesis[] = new Array(count);
  // active[r] = the image whose caption is decoded in row r of the current batch
  let active = Array.from({ length: count }, (_, i) => i);
  let tokens = new Int32Array(count).fill(SPECIAL_IDS.start);
  const search = startSearch(model, features);
  try {
    for (let t = 0; t <= maxLength && active.length > 0; t++) {
      const blocked = active.map((image) => repeatedNgramTokens(words[image], blockNgrams));
      const extra = Math.max(0, ...blocked.map((b) => b.size)); // candidates read past the blocked ones
      const { tops, attention } = search.step(tokens, t, {
        count: 1 + extra,
        endOnly: t === maxLength,
        attentionGrid: wantAttention?.grid,
      });
      const keep: number[] = [];
      const nextTokens: number[] = [];
      for (let r = 0; r < active.length; r++) {
        const image = active[r];
        const [{ token, logProb }] = allowedTokens(tops, r, 1, { firstWord: t === 0 && maxLength > 0, blocked: blocked[r] });
        logProbs[image] += logProb;
        if (token === SPECIAL_IDS.end) {
          results[image] = {
            tokens: words[image],
            logProb: logProbs[image],
            score: logProbs[image],
            length: t + 1,
            ...(maps ? { attention: maps[image] } : {}),
          };
        } else {
          words[image].push(token);
          if (maps && attention) maps[image].push(attentionRow(attention, r));
          keep.push(r);
          nextTokens.push(token);
        }
      }
      tokens = Int32Array.from(nextTokens);
      if (keep.length < active.length) search.select(Int32Array.from(keep));
      active = keep.map((r) => active[r]);
    }
  } finally {
    search.dispose();
  }
  return results;
}
