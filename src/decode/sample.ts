// Sampling: each caption draws its next word from the model's step distribution (multinomial,
// seeded), the captions self-critical training scores. The rules of greedy and beam search hold: pad,
// start and unk are never drawn, the end token not as a first word, blocked repeats not at all; the
// distribution is the model's renormalised over the words allowed. One model call per step for the
// whole batch; captions that have ended are dropped from the batch.
// Each row reads its whole sorted distribution (a top-k of the vocabulary): simple and exact, at the
// cost of a sort per row and step.
import type * as tf from '@tensorflow/tfjs';
import type { StepDecoder } from '../model/step-decoder.js';
import { SPECIAL_IDS } from '../run/formats.js';
import { mixSeed, mulberry32, type Rng } from '../util/random.js';
import { allowedTokens } from './candidates.js';
import { repeatedNgramTokens } from './repeats.js';
import { startSearch } from './search-steps.js';
import type { DecodeOptions, Hypothesis } from './types.js';

export interface SampleOptions extends Pick<DecodeOptions, 'maxLength' | 'blockNgrams'> {
  /** Image i draws from its own stream mixSeed(seed, i): its captions do not depend on the batch around it. */
  seed: number;
  /**
   * Divides the log-probabilities before drawing (1 = the model's distribution; < 1 sharper, > 1
   * flatter). Unset = 1: self-critical training samples the model as it is.
   */
  temperature?: number;
}

/**
 * One sampled caption per image. features [B, ...featureShape] -> hypotheses (score = logProb, the
 * model's log-probability of the words drawn, end token included). For K samples of an image, repeat
 * its row K times. The caller keeps ownership of `features`.
 */
export function sampleSearch(model: StepDecoder, features: tf.Tensor, opts: SampleOptions): Hypothesis[] {
  const { maxLength, blockNgrams = 0 } = opts;
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0)) throw new RangeError(`temperature must be > 0, got ${temperature}`);
  const count = features.shape[0];
  const rngs: Rng[] = Array.from({ length: count }, (_, i) => mulberry32(mixSeed(opts.seed, i)));
  const words: number[][] = Array.from({ length: count }, () => []);
  const logProbs = new Float64Array(count);
  const results: Hypothesis[] = new Array(count);
  let active = Array.from({ length: count }, (_, i) => i);
  let tokens = new Int32Array(count).fill(SPECIAL_IDS.start);
  const search = startSearch(model, features);
  try {
    for (let t = 0; t <= maxLength && active.length > 0; t++) {
      const { tops } = search.step(tokens, t, { count: model.vocabSize, endOnly: t === maxLength });
      const keep: number[] = [];
      const nextTokens: number[] = [];
      for (let r = 0; r < active.length; r++) {
        const image = active[r];
        const candidates = allowedTokens(tops, r, model.vocabSize, {
          firstWord: t === 0 && maxLength > 0,
          blocked: repeatedNgramTokens(words[image], blockNgrams),
        });
        const { token, logProb } = draw(candidates, temperature, rngs[image]);
        logProbs[image] += logProb;
        if (token === SPECIAL_IDS.end) {
          results[image] = { tokens: words[image], logProb: logProbs[image], score: logProbs[image], length: t + 1 };
        } else {
          words[image].push(token);
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

/** One candidate drawn with probability proportional to exp(logProb / temperature) (candidates best first). */
function draw(candidates: { token: number; logProb: number }[], temperature: number, rng: Rng): { token: number; logProb: number } {
  if (!candidates.length) throw new Error('sampleSearch: no word may follow (every candidate is blocked)');
  const top = candidates[0].logProb / temperature; // the largest: exp() of the rest stays <= 1
  let total = 0;
  const weights = candidates.map((c) => {
    const w = Math.exp(c.logProb / temperature - top);
    total += w;
    return w;
  });
  let u = rng() * total;
  for (let i = 0; i < candidates.length; i++) {
    u -= weights[i];
    if (u < 0) return candidates[i];
  }
  return candidates[candidates.length - 1]; // u landed on total itself (rounding)
}
