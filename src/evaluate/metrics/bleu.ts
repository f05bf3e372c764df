// BLEU exactly as NLTK 3.8 computes it (nltk.translate.bleu_score): corpus_bleu, sentence_bleu and the
// Chen & Cherry smoothing functions, quirks included, so scores can be compared with published Python numbers.
import { CapgenError } from '../../errors.js';
import {
  type Counted,
  DEFAULT_SMOOTHING,
  type Precision,
  SMOOTHERS,
  type SmoothingContext,
  type SmoothingMethod,
  valueOf,
} from './bleu-smoothing.js';
import { exactSum, ngramCounts, ngramCountsUpTo } from './ngrams.js';

export { DEFAULT_SMOOTHING, SMOOTHING_METHODS, type SmoothingMethod } from './bleu-smoothing.js';

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
  return clippedPrecision(
    ngramCounts(hypothesis, n),
    references.map((r) => ngramCounts(r, n)),
  );
}

/** The reference length closest to the hypothesis length; ties go to the shorter reference. */
function closestRefLength(references: readonly string[][], hypothesisLength: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (const ref of references) {
    const d = Math.abs(ref.length - hypothesisLength);
    const bestD = Math.abs(best - hypothesisLength);
    if (d < bestD || (d === bestD && ref.length < best)) best = ref.length;
  }
  if (!Number.isFinite(best))
    throw new CapgenError('BAD_INPUT', 'BLEU: an image has no reference captions', {
      hint: 'every scored image needs at least one reference',
    });
  return best;
}

function brevityPenalty(referenceLength: number, hypothesisLength: number): number {
  if (hypothesisLength > referenceLength) return 1;
  if (hypothesisLength === 0) return 0;
  return Math.exp(1 - referenceLength / hypothesisLength);
}

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
      const p = clippedPrecision(
        hypCounts[n - 1]!,
        refCounts.map((c) => c[n - 1]!),
      );
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
  return bleuFromCounts(counts, weights, smoothing, smoothingContext(references, hypotheses, counts));
}

/** What NLTK hands its smoothing functions: the corpus hypothesis length and the last sentence of the corpus. */
function smoothingContext(references: readonly string[][][], hypotheses: readonly string[][], counts: BleuCounts): SmoothingContext {
  const lastRefs = references[references.length - 1] ?? [];
  const lastHyp = hypotheses[hypotheses.length - 1] ?? [];
  return {
    references: lastRefs,
    hypothesis: lastHyp,
    hypothesisLength: counts.hypothesisLength,
    modifiedPrecision: (n) => modifiedPrecision(lastRefs, lastHyp, n),
  };
}

function bleuFromCounts(
  counts: BleuCounts,
  weights: readonly (readonly number[])[],
  smoothing: SmoothingMethod,
  ctx: SmoothingContext,
): number[] {
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
  const bleu = bleuFromCounts(counts, weights, smoothing, smoothingContext(references, hypotheses, counts));
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
