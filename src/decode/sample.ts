// Sampling: each caption draws its next word from the model's step distribution (multinomial,
// seeded), the captions self-critical training scores. The rules of greedy and beam search hold: pad,
// start and unk are never drawn, the end token not as a first word, blocked repeats not at all; the
// distribution is the model's renormalised over the words allowed. One model call per step for the
// whole batch; captions that have ended are dropped from the batch.
// Each row reads its whole distribution as probabilities (the decoder's exp of its log-probabilities,
// in the engine) and draws by inverse CDF over the vocabulary in id order: one pass to total the
// allowed mass, part of one to find the word; no sort, no exp per word in JavaScript.
import type * as tf from '@tensorflow/tfjs';
import type { StepDecoder } from '../model/step-decoder.js';
import { mixSeed, mulberry32, type Rng } from '../util/random.js';
import { refusedWords, type Candidate, type WordRules } from './candidates.js';
import { stepwiseSearch } from './greedy.js';
import type { DecodeOptions, Hypothesis } from './types.js';

export interface SampleOptions extends Pick<DecodeOptions, 'maxLength' | 'blockNgrams'> {
  /** Caption i draws from its own stream mixSeed(seed, i): its words do not depend on the batch around it. */
  seed: number;
  /**
   * Divides the log-probabilities before drawing (1 = the model's distribution; < 1 sharper, > 1
   * flatter). Unset = 1: self-critical training samples the model as it is.
   */
  temperature?: number;
  /** Captions per image (default 1), hypotheses image by image: the image's state is computed once. */
  samplesPerImage?: number;
  /**
   * The index of this call's first caption in its seed streams (default 0): a batch drawn in parts,
   * part p starting at the number of captions before it, draws the captions of one whole call.
   */
  firstCaption?: number;
}

/**
 * Sampled captions, `samplesPerImage` (K) per image. features [B, ...featureShape] -> B x K hypotheses,
 * image by image (score = logProb, the model's log-probability of the words drawn, end token
 * included). Caption i draws from its own stream mixSeed(seed, firstCaption + i): the same captions as
 * K copies of each row with K = 1, and as one call over the whole batch. The caller keeps ownership of
 * `features`.
 */
export function sampleSearch(model: StepDecoder, features: tf.Tensor, opts: SampleOptions): Hypothesis[] {
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0)) throw new RangeError(`temperature must be > 0, got ${temperature}`);
  const repeats = opts.samplesPerImage ?? 1;
  const first = opts.firstCaption ?? 0;
  if (!Number.isInteger(first) || first < 0) throw new RangeError(`firstCaption must be a whole number >= 0, got ${first}`);
  const rngs: Rng[] = Array.from({ length: features.shape[0] * repeats }, (_, i) => mulberry32(mixSeed(opts.seed, first + i)));
  return stepwiseSearch(model, features, {
    maxLength: opts.maxLength,
    blockNgrams: opts.blockNgrams ?? 0,
    repeats,
    draw: (probs, offset, rules, caption) => draw(probs, offset, model.vocabSize, rules, temperature, rngs[caption]),
  });
}

/** The model's distribution holds NaN: its weights are not finite (a diverged training). */
export class NonFiniteDistributionError extends Error {
  constructor() {
    super('sampleSearch: the next-word distribution is not finite');
  }
}

/**
 * One word of a row (probs[offset .. offset + V)), drawn with probability proportional to
 * p^(1/temperature) among the allowed words; its logProb is log p, the model's. Overwrites the
 * row's words that are not allowed with 0 (the row is the caller's scratch: each step's is new).
 */
function draw(probs: Float32Array, offset: number, V: number, rules: WordRules, temperature: number, rng: Rng): Candidate {
  const row = probs.subarray(offset, offset + V);
  for (const token of refusedWords(rules.firstWord ?? false)) if (token < V) row[token] = 0;
  if (rules.blocked) for (const token of rules.blocked) row[token] = 0;
  const weights = temperature === 1 ? row : tempered(row, temperature);
  let total = 0;
  for (let v = 0; v < V; v++) total += weights[v];
  if (Number.isNaN(total)) throw new NonFiniteDistributionError();
  if (!(total > 0)) throw new Error('sampleSearch: no word may follow (every allowed word has probability 0)');
  let u = rng() * total;
  let last = -1;
  for (let v = 0; v < V; v++) {
    if (weights[v] === 0) continue;
    last = v;
    u -= weights[v];
    if (u < 0) break;
  }
  // (u may stay >= 0 past the last allowed word only by rounding: that word is then the draw)
  return { token: last, logProb: Math.log(row[last]) };
}

/** p -> (p / p_max)^(1/temperature), in log space (p^(1/T) underflows for small T). */
function tempered(row: Float32Array, temperature: number): Float64Array {
  let max = 0;
  for (const p of row) if (p > max) max = p;
  const logMax = Math.log(max);
  return Float64Array.from(row, (p) => (p > 0 ? Math.exp((Math.log(p) - logMax) / temperature) : 0));
}
