// NLTK 3.8's BLEU smoothing functions (SmoothingFunction.method0..method7, Chen & Cherry 2014), quirks included:
// they see the corpus hypothesis length but the LAST sentence's references and hypothesis.
import { CapgenError } from '../../errors.js';

export const SMOOTHING_METHODS = ['method0', 'method1', 'method2', 'method3', 'method4', 'method5', 'method6', 'method7'] as const;
export type SmoothingMethod = (typeof SMOOTHING_METHODS)[number];

/**
 * method0 (no smoothing) is NLTK corpus_bleu's default and what captioning papers and the Keras tutorial report as
 * BLEU-1..4. On a whole test set every order has matches, so method1/3/4 (which only fill zero counts) give the same
 * corpus numbers; method2/5/7 change every score. A single short caption without 4-gram matches gets a sentence
 * BLEU-4 near 1e-78 under method0 (NLTK puts the smallest float in place of 0): choose method1 or later for per-caption scores.
 */
export const DEFAULT_SMOOTHING: SmoothingMethod = 'method0';

// SmoothingFunction() constructor defaults in NLTK (Chen & Cherry 2014): epsilon, alpha, k.
const EPSILON = 0.1;
const ALPHA = 5;
const K = 5;
/** sys.float_info.min: method0 puts it in place of a zero precision, so log() stays finite. */
const FLOAT_MIN = 2.2250738585072014e-308;

/** A modified precision kept unreduced, like NLTK's Fraction(_normalize=False): the counts matter to smoothing. */
export interface Counted {
  numerator: number;
  denominator: number;
}
/** Smoothing turns some precisions into plain floats, as in NLTK. */
export type Precision = Counted | number;

export const valueOf = (p: Precision): number => (typeof p === 'number' ? p : p.numerator / p.denominator);
export const numeratorOf = (p: Precision): number => (typeof p === 'number' ? p : p.numerator);

/** NLTK passes the smoothers the LAST sentence's references and hypothesis, plus the corpus hypothesis length. */
export interface SmoothingContext {
  references: readonly string[][];
  hypothesis: readonly string[];
  hypothesisLength: number;
  /** NLTK's modified_precision of the last sentence for order n (method5 asks for 5-grams). */
  modifiedPrecision: (n: number) => Counted;
}

export const SMOOTHERS: Record<SmoothingMethod, (p: Precision[], ctx: SmoothingContext) => Precision[]> = {
  method0: (p) => p.map((pi) => (numeratorOf(pi) !== 0 ? pi : FLOAT_MIN)),
  method1: (p) => p.map((pi) => (typeof pi !== 'number' && pi.numerator === 0 ? (pi.numerator + EPSILON) / pi.denominator : pi)),
  method2: (p) =>
    p.map((pi, i) => (i === 0 || typeof pi === 'number' ? pi : { numerator: pi.numerator + 1, denominator: pi.denominator + 1 })),
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
    const withNext = [...p, ctx.modifiedPrecision(5)];
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
