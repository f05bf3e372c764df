// BLEU exactly as NLTK 3.8 computes it (nltk.translate.bleu_score): corpus_bleu, sentence_bleu and the
// Chen & Cherry smoothing functions, quirks included, so scores can be compared with published Python numbers.
import { CapgenError } from '../../errors.js';
import { exactSum, ngramCounts, ngramCountsUpTo } from './ngrams.js';

export const SMOOTHING_METHODS = ['method0', 'method1', 'method2', 'method3', 'method4', 'method5', 'method6', 'method7'] as const;
export type SmoothingMethod = (typeof SMOOTHING_METHODS)[number];

/**
 * method0 (no smoothing) is what NLTK's corpus_bleu does by default and what captioning papers and the Keras
 * tutorial report as corpus BLEU-1..4; at corpus level every n-gram order has matches, so smoothing changes nothing
 * there. (Sentence-level BLEU-4 of one short caption is often ~0 without smoothing: pick method1+ for that.)
 */
export const DEFAULT_SMOOTHING: SmoothingMethod = 'method0';

// SmoothingFunction() constructor defaults in NLTK (Chen & Cherry 2014): epsilon, alpha, k.
const EPSILON = 0.1;
const ALPHA = 5;
const K = 5;
/** sys.float_info.min: method0 puts it in place of a zero precision, so log() stays finite. */
const FLOAT_MIN = 2.2250738585072014e-308;

/** A modified precision kept unreduced, like NLTK's Fraction(_normalize=False): the counts matter to smoothing. */
interface Counted {
  numerator: number;
  denominator: number;
}
/** Smoothing turns some precisions into plain floats, as in NLTK. */
type Precision = Counted | number;

const valueOf = (p: Precision): number => (typeof p === 'number' ? p : p.numerator / p.denominator);
const numeratorOf = (p: Precision): number => (typeof p === 'number' ? p : p.numerator);

/** Clipped n-gram matches of one hypothesis against the max count over its references; denominator >= 1. */
function clippedPrecision(hypCounts: ReadonlyMap<string, number>, refCounts: readonly ReadonlyMap<string, number>[]): Counted {
  let clipped = 0;
  let total = 0;
  for (const [gram, count] of hypCounts) {
    let maxRef = 0;
    for (const ref of refCounts) maxRef = Math.max(maxRef, ref.get(gram) ?? 0);
    clipped += Math.min(count, maxRef);
    total += count;
  }
  return { numerator: clipped, denominator: Math.max(1, total) };
}

/** NLTK's modified_precision for one order. */
function modifiedPrecision(references: readonly string[][], hypothesis: readonly string[], n: number): Counted {
  return clippedPrecision(ngramCounts(hypothesis, n), references.map((r) => ngramCounts(r, n)));
}

/** The reference length closest to the hypothesis length; ties go to the shorter reference. */
function closestRefLength(references: readonly string[][], hypothesisLength: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (const ref of references) {
    const d = Math.abs(ref.length - hypothesisLength);
    const bestD = Math.abs(best - hypothesisLength);
    if (d < bestD || (d === bestD && ref.length < best)) best = ref.length;
  }
  if (!Number.isFinite(best)) throw new CapgenError('BAD_INPUT', 'BLEU: an image has no reference captions', { hint: 'every scored image needs at least one reference' });
  return best;
}

function brevityPenalty(referenceLength: number, hypothesisLength: number): number {
  if (hypothesisLength > referenceLength) return 1;
  if (hypothesisLength === 0) return 0;
  return Math.exp(1 - referenceLength / hypothesisLength);
}

/** NLTK passes the smoothers the LAST sentence's references and hypothesis, plus the corpus hypothesis length. */
interface SmoothingContext {
  references: readonly string[][];
  hypothesis: readonly string[];
  hypothesisLength: number;
}

const SMOOTHERS: Record<SmoothingMethod, (p: Precision[], ctx: SmoothingContext) => Precision[]> = {
  method0: (p) => p.map((pi) => (numeratorOf(pi) !== 0 ? pi : FLOAT_MIN)),
  method1: (p) => p.map((pi) => (typeof pi !== 'number' && pi.numerator === 0 ? (pi.numerator + EPSILON) / pi.denominator : pi)),
  method2: (p) => p.map((pi, i) => (i === 0 || typeof pi === 'number' ? pi : { numerator: pi.numerator + 1, denominator: pi.denominator + 1 })),
  method3: (p) => {
    let incvnt = 1;
    return p.map((pi) => {
      if (typeof pi === 'number' || pi.numerator !== 0) return pi;
      return 1 / (2 ** incvnt++ * pi.denominator);
    });
  },
  method4: (p, ctx) => {
    let incvnt = 1;
    const hypLength = ctx.hypothesisLength || ctx.hypothesis.length;
    return p.map((pi) => {
      if (typeof pi === 'number' || pi.numerator !== 0 || hypLength <= 1) return pi;
      const numerator = 1 / ((2 ** incvnt++ * K) / Math.log(hypLength));
      return numerator / pi.denominator;
    });
  },
  method5: (p, ctx) => {
    // The extra order is always 5-grams, whatever the number of weights (as in NLTK).
    const withNext = [...p, modifiedPrecision(ctx.references, ctx.hypothesis, 5)];
    let previous = valueOf(p[0]!) + 1;
    return p.map((pi, i) => {
      previous = (previous + valueOf(pi) + valueOf(withNext[i + 1]!)) / 3;
      return previous;
    });
  },
  method6: (p, ctx) => {
    if (p.length < 3 || numeratorOf(p[2]!) === 0) {
      throw new CapgenError('USAGE', 'BLEU smoothing method6 needs trigram matches (NLTK asserts the same)', {
        hint: 'choose another --smoothing, e.g. method1',
      });
    }
    const out = [...p];
    for (let i = 2; i < out.length; i++) {
      const before = valueOf(out[i - 2]!);
      const pi0 = before === 0 ? 0 : valueOf(out[i - 1]!) ** 2 / before;
      const matches = numeratorOf(p[i]!);
      const hypNgrams = Math.max(0, ctx.hypothesis.length - i);
      out[i] = (matches + ALPHA * pi0) / (hypNgrams + ALPHA);
    }
    return out;
  },
  method7: (p, ctx) => SMOOTHERS.method5(SMOOTHERS.method4(p, ctx), ctx),
};

export interface BleuCounts {
  /** Clipped matches per order (index 0 = unigrams), summed over the corpus. */
  matches: number[];
  /** Hypothesis n-grams per order (at least 1 per sentence, as NLTK), summed over the corpus. */
  totals: number[];
  hypothesisLength: number;
  referenceLength: number;
}

function countCorpus(references: readonly string[][][], hypotheses: readonly string[][], maxOrder: number): BleuCounts {
  if (references.length !== hypotheses.length) {
    throw new CapgenError('BAD_INPUT', `BLEU: ${hypotheses.length} hypotheses but ${references.length} reference sets`, {
      hint: 'give one list of references per hypothesis',
    });
  }
  const matches = new Array<number>(maxOrder).fill(0);
  const totals = new Array<number>(maxOrder).fill(0);
  let hypothesisLength = 0;
  let referenceLength = 0;
  hypotheses.forEach((hypothesis, k) => {
    const refs = references[k]!;
    const hypCounts = ngramCountsUpTo(hypothesis, maxOrder);
    const refCounts = refs.map((r) => ngramCountsUpTo(r, maxOrder));
    for (let n = 1; n <= maxOrder; n++) {
      const p = clippedPrecision(hypCounts[n - 1]!, refCounts.map((c) => c[n - 1]!));
      matches[n - 1]! += p.numerator;
      totals[n - 1]! += p.denominator;
    }
    hypothesisLength += hypothesis.length;
    referenceLength += closestRefLength(refs, hypothesis.length);
  });
  return { matches, totals, hypothesisLength, referenceLength };
}

/** NLTK corpus_bleu with a list of weight vectors: one score per vector (smoothing applied once, to the longest). */
export function corpusBleuWeights(
  references: readonly string[][][],
  hypotheses: readonly string[][],
  weights: readonly (readonly number[])[],
  smoothing: SmoothingMethod = DEFAULT_SMOOTHING,
): number[] {
  const maxOrder = Math.max(...weights.map((w) => w.length));
  const counts = countCorpus(references, hypotheses, maxOrder);
  return bleuFromCounts(counts, weights, smoothing, {
    references: references[references.length - 1] ?? [],
    hypothesis: hypotheses[hypotheses.length - 1] ?? [],
    hypothesisLength: counts.hypothesisLength,
  });
}

function bleuFromCounts(counts: BleuCounts, weights: readonly (readonly number[])[], smoothing: SmoothingMethod, ctx: SmoothingContext): number[] {
  // No unigram match at all: NLTK returns 0 before any smoothing.
  if (counts.matches.length === 0 || counts.matches[0] === 0) return weights.map(() => 0);
  const bp = brevityPenalty(counts.referenceLength, counts.hypothesisLength);
  const raw: Precision[] = counts.matches.map((m, i) => ({ numerator: m, denominator: counts.totals[i]! }));
  const smoothed = SMOOTHERS[smoothing](raw, ctx);
  return weights.map((weight) => {
    const logs: number[] = [];
    weight.forEach((w, i) => {
      if (i >= smoothed.length) return;
      const p = valueOf(smoothed[i]!);
      if (p > 0) logs.push(w * Math.log(p));
    });
    return bp * Math.exp(exactSum(logs));
  });
}

/** Uniform weights for cumulative BLEU-n: (1), (1/2, 1/2), ... */
export function uniformWeights(order: number): number[] {
  return new Array<number>(order).fill(1 / order);
}

export interface CorpusBleuOptions {
  /** Highest n-gram order: 4 gives BLEU-1..4, the numbers captioning papers report. */
  maxOrder?: number;
  smoothing?: SmoothingMethod;
}

export interface CorpusBleu {
  /** Cumulative BLEU-1..maxOrder with uniform weights (index 0 = BLEU-1). */
  bleu: number[];
  /** Unsmoothed modified precisions p1..pN (clipped matches / hypothesis n-grams over the corpus). */
  precisions: number[];
  brevityPenalty: number;
  hypothesisLength: number;
  referenceLength: number;
}

/**
 * Corpus BLEU as NLTK's corpus_bleu called with the weight list [(1), (1/2,1/2), ..., (1/N,...)].
 * references: [image][reference][token]; hypotheses: [image][token].
 */
export function corpusBleu(references: readonly string[][][], hypotheses: readonly string[][], opts: CorpusBleuOptions = {}): CorpusBleu {
  const maxOrder = opts.maxOrder ?? 4;
  if (!Number.isInteger(maxOrder) || maxOrder < 1) {
    throw new CapgenError('USAGE', `BLEU: maxOrder must be a positive integer, got ${maxOrder}`);
  }
  const smoothing = opts.smoothing ?? DEFAULT_SMOOTHING;
  const counts = countCorpus(references, hypotheses, maxOrder);
  const weights = Array.from({ length: maxOrder }, (_, i) => uniformWeights(i + 1));
  const bleu = bleuFromCounts(counts, weights, smoothing, {
    references: references[references.length - 1] ?? [],
    hypothesis: hypotheses[hypotheses.length - 1] ?? [],
    hypothesisLength: counts.hypothesisLength,
  });
  return {
    bleu,
    precisions: counts.matches.map((m, i) => m / counts.totals[i]!),
    brevityPenalty: brevityPenalty(counts.referenceLength, counts.hypothesisLength),
    hypothesisLength: counts.hypothesisLength,
    referenceLength: counts.referenceLength,
  };
}

export interface SentenceBleuOptions {
  /** Default (0.25, 0.25, 0.25, 0.25): NLTK's default, i.e. BLEU-4. */
  weights?: readonly number[];
  smoothing?: SmoothingMethod;
}

/** NLTK sentence_bleu: corpus_bleu over a corpus of one sentence. */
export function sentenceBleu(references: readonly string[][], hypothesis: readonly string[], opts: SentenceBleuOptions = {}): number {
  return corpusBleuWeights([references as string[][]], [hypothesis as string[]], [opts.weights ?? uniformWeights(4)], opts.smoothing)[0]!;
}

/** The mean of sentence-level BLEU over images (what some projects report instead of corpus BLEU). */
export function meanSentenceBleu(
  references: readonly string[][][],
  hypotheses: readonly string[][],
  opts: SentenceBleuOptions = {},
): { score: number; perImage: number[] } {
  if (references.length !== hypotheses.length) {
    throw new CapgenError('BAD_INPUT', `BLEU: ${hypotheses.length} hypotheses but ${references.length} reference sets`);
  }
  const perImage = hypotheses.map((hyp, i) => sentenceBleu(references[i]!, hyp, opts));
  const score = perImage.length === 0 ? 0 : perImage.reduce((a, b) => a + b, 0) / perImage.length;
  return { score, perImage };
}
