// Greedy search: at every step each caption takes its most likely allowed next word; and the stepwise
// loop it shares with sampling (src/decode/sample.ts). One model call per step for the whole batch.
import type * as tf from '@tensorflow/tfjs';
import type { StepDecoder } from '../model/step-decoder.js';
import { SPECIAL_IDS } from '../run/formats.js';
import { attentionRow } from './attention.js';
import { allowedTokens, type Candidate } from './candidates.js';
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
  const { maxLength, attention, blockNgrams = 0 } = typeof options === 'number' ? { maxLength: options } : options;
  return stepwiseSearch(model, features, { maxLength, blockNgrams, attentionGrid: attention?.grid, choose: (allowed) => allowed[0] });
}

export interface StepwiseOptions {
  maxLength: number;
  blockNgrams: number;
  /** Keep each word's attention row over this grid (attending decoders). */
  attentionGrid?: [number, number];
  /**
   * The next word of `image`'s caption, from its allowed candidates, best first. Absent `allCandidates`,
   * only the best allowed one is read (greedy); with it, every allowed word of the vocabulary (sampling).
   */
  choose(allowed: Candidate[], image: number): Candidate;
  allCandidates?: boolean;
}

/**
 * One caption per image, one word per step for the whole batch: greedy search and sampling differ only
 * in how a word is chosen among the allowed candidates. Captions that have ended are dropped from the
 * batch (rows gathered out).
 */
export function stepwiseSearch(model: StepDecoder, features: tf.Tensor, opts: StepwiseOptions): Hypothesis[] {
  const { maxLength, blockNgrams, attentionGrid } = opts;
  const count = features.shape[0];
  const words: number[][] = Array.from({ length: count }, () => []);
  const maps: number[][][] | undefined = attentionGrid ? Array.from({ length: count }, () => []) : undefined;
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
      const wanted = opts.allCandidates ? model.vocabSize : 1;
      const { tops, attention } = search.step(tokens, t, {
        count: opts.allCandidates ? model.vocabSize : 1 + extra,
        endOnly: t === maxLength,
        attentionGrid,
      });
      const keep: number[] = [];
      const nextTokens: number[] = [];
      for (let r = 0; r < active.length; r++) {
        const image = active[r];
        const allowed = allowedTokens(tops, r, wanted, { firstWord: t === 0 && maxLength > 0, blocked: blocked[r] });
        const { token, logProb } = opts.choose(allowed, image);
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
