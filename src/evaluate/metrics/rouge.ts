// ROUGE-L as the coco-caption toolkit computes it (pycocoevalcap/rouge): LCS-based precision and recall against
// each reference, the best precision and the best recall taken separately, combined with beta 1.2.
import { CapgenError } from '../../errors.js';
import type { MetricResult } from './cider.js';

/** coco-caption's beta (weights recall over precision), "updated based on discussion with Hovy". */
export const ROUGE_BETA = 1.2;

/** Length of the longest common subsequence of two token lists (two-row dynamic programme). */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  let previous = new Int32Array(b.length + 1);
  let current = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      current[j] = a[i - 1] === b[j - 1] ? previous[j - 1]! + 1 : Math.max(previous[j]!, current[j - 1]!);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length]!;
}

/** coco-caption splits "" into [""]: an empty caption counts as one empty token, so we do the same. */
const asCocoTokens = (tokens: readonly string[]): readonly string[] => (tokens.length === 0 ? [''] : tokens);

/** ROUGE-L of one hypothesis against its references. */
export function sentenceRougeL(references: readonly string[][], hypothesis: readonly string[], beta = ROUGE_BETA): number {
  if (references.length === 0) throw new CapgenError('BAD_INPUT', 'ROUGE-L: an image has no reference captions');
  const hyp = asCocoTokens(hypothesis);
  let bestPrecision = 0;
  let bestRecall = 0;
  for (const reference of references) {
    const ref = asCocoTokens(reference);
    const lcs = lcsLength(ref, hyp);
    bestPrecision = Math.max(bestPrecision, lcs / hyp.length);
    bestRecall = Math.max(bestRecall, lcs / ref.length);
  }
  if (bestPrecision === 0 || bestRecall === 0) return 0;
  return ((1 + beta ** 2) * bestPrecision * bestRecall) / (bestRecall + beta ** 2 * bestPrecision);
}

/** Corpus ROUGE-L: the mean over images. references: [image][reference][token]; hypotheses: [image][token]. */
export function rougeL(references: readonly string[][][], hypotheses: readonly string[][], beta = ROUGE_BETA): MetricResult {
  if (references.length !== hypotheses.length) {
    throw new CapgenError('BAD_INPUT', `ROUGE-L: ${hypotheses.length} hypotheses but ${references.length} reference sets`);
  }
  const perImage = hypotheses.map((hyp, i) => sentenceRougeL(references[i]!, hyp, beta));
  const score = perImage.length === 0 ? 0 : perImage.reduce((a, b) => a + b, 0) / perImage.length;
  return { score, perImage };
}
