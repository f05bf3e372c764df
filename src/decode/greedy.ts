// Greedy search: at every step each caption takes its most likely allowed next word; and the stepwise
// loop it shares with sampling (src/decode/sample.ts). One model call per step for the whole batch.
import type * as tf from '@tensorflow/tfjs';
import type { StepDecoder } from '../model/step-decoder.js';
import { SPECIAL_IDS } from '../run/formats.js';
import { attentionRow, type AttentionRows } from './attention.js';
import { allowedTokens, type Candidate, type WordRules } from './candidates.js';
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
  return stepwiseSearch(model, features, { maxLength, blockNgrams, attentionGrid: attention?.grid });
}

export interface StepwiseOptions {
  maxLength: number;
  blockNgrams: number;
  /** Keep each word's attention row over this grid (attending decoders; greedy only). */
  attentionGrid?: [number, number];
  /**
   * Sampling: the next word of caption `caption`, drawn from its row of the step's whole distribution
   * (`probs`, V entries from `offset`) under `rules`. Absent: greedy, the best allowed word (only a
   * row's few best candidates are read).
   */
  draw?(probs: Float32Array, offset: number, rules: WordRules, caption: number): Candidate;
  /**
   * Captions per image (default 1): caption i is of image floor(i / repeats). The decoder's initial
   * state is computed once per image, then its rows repeated (K samples of an image share it).
   */
  repeats?: number;
}

/**
 * One caption per image, one word per step for the whole batch: greedy search and sampling differ only
 * in how a word is chosen. Captions that have ended are dropped from the batch (rows gathered out).
 */
export function stepwiseSearch(model: StepDecoder, features: tf.Tensor, opts: StepwiseOptions): Hypothesis[] {
  const { maxLength, blockNgrams, attentionGrid } = opts;
  const repeats = opts.repeats ?? 1;
  if (!Number.isInteger(repeats) || repeats < 1) throw new RangeError(`repeats must be a whole number >= 1, got ${repeats}`);
  const count = features.shape[0] * repeats;
  const words: number[][] = Array.from({ length: count }, () => []);
  const maps: number[][][] | undefined = attentionGrid ? Array.from({ length: count }, () => []) : undefined;
  const logProbs = new Float64Array(count);
  const results: Hypothesis[] = new Array(count);
  // active[r] = the image whose caption is decoded in row r of the current batch
  let active = Array.from({ length: count }, (_, i) => i);
  let tokens = new Int32Array(count).fill(SPECIAL_IDS.start);
  const search = startSearch(model, features);
  try {
    if (repeats > 1) search.select(Int32Array.from({ length: count }, (_, i) => Math.floor(i / repeats)));
    for (let t = 0; t <= maxLength && active.length > 0; t++) {
      const blocked = active.map((image) => repeatedNgramTokens(words[image], blockNgrams));
      const endOnly = t === maxLength;
      const firstWord = t === 0 && maxLength > 0;
      let next: (r: number) => Candidate;
      let attention: AttentionRows | undefined;
      if (opts.draw) {
        const draw = opts.draw;
        const probs = search.distribution(tokens, t);
        const V = model.vocabSize;
        next = (r) =>
          endOnly
            ? { token: SPECIAL_IDS.end, logProb: Math.log(probs[r * V + SPECIAL_IDS.end]) }
            : draw(probs, r * V, { firstWord, blocked: blocked[r] }, active[r]);
      } else {
        const extra = Math.max(0, ...blocked.map((b) => b.size)); // candidates read past the blocked ones
        const out = search.step(tokens, t, { count: 1 + extra, endOnly, attentionGrid });
        attention = out.attention;
        next = (r) => {
          const best = allowedTokens(out.tops, r, 1, { firstWord, blocked: blocked[r] })[0];
          if (!best) throw new Error('greedy search: no word may follow (every candidate is blocked)');
          return best;
        };
      }
      const keep: number[] = [];
      const nextTokens: number[] = [];
      for (let r = 0; r < active.length; r++) {
        const image = active[r];
        const { token, logProb } = next(r);
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
