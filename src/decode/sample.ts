// Sampling: each caption draws its next word from the model's step distribution (multinomial,
// seeded), the captions self-critical training scores. The rules of greedy and beam search hold: pad,
// start and unk are never drawn, the end token not as a first word, blocked repeats not at all; the
// distribution is the model's renormalised over the words allowed. One model call per step for the
// whole batch; captions that have ended are dropped from the batch.
// Each row reads its whole sorted distribution (a top-k of the vocabulary): simple and exact, at the
// cost of a sort per row and step.
import type * as tf from '@tensorflow/tfjs';
import type { StepDecoder } from '../model/step-decoder.js';
import { mixSeed, mulberry32, type Rng } from '../util/random.js';
import type { Candidate } from './candidates.js';
import { stepwiseSearch } from './greedy.js';
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
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0)) throw new RangeError(`temperature must be > 0, got ${temperature}`);
  const rngs: Rng[] = Array.from({ length: features.shape[0] }, (_, i) => mulberry32(mixSeed(opts.seed, i)));
  return stepwiseSearch(model, features, {
    maxLength: opts.maxLength,
    blockNgrams: opts.blockNgrams ?? 0,
    allCandidates: true,
    choose: (allowed, image) => draw(allowed, temperature, rngs[image]),
  });
}

/** One candidate drawn with probability proportional to exp(logProb / temperature) (candidates best first). */
function draw(candidates: Candidate[], temperature: number, rng: Rng): Candidate {
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
