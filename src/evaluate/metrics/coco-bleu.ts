// BLEU-1..4 under the coco-caption convention (pycocoevalcap's bleu/bleu_scorer.py, what COCO and most
// captioning papers report), on capgen's tokens. It differs from NLTK's corpus_bleu (bleu.ts) in three
// places: a caption shorter than n adds 0 n-grams to the denominator (NLTK adds at least 1), every
// precision carries the epsilons (correct + 1e-15) / (guess + 1e-9) instead of being 0 or smoothed, and
// the brevity penalty uses the same epsilons. The reference length is the closest one (ties: the shorter).
import { CapgenError } from '../../errors.js';
import { ngramCountsUpTo } from './ngrams.js';

/** bleu_scorer.py's guards against 0/0 and log(0): they make a score with no 4-gram match tiny, not 0. */
const TINY = 1e-15;
const SMALL = 1e-9;

export interface CocoBleu {
  /** Cumulative BLEU-1..maxOrder (index 0 = BLEU-1). */
  bleu: number[];
  /** Clipped matches and hypothesis n-grams per order, summed over the corpus. */
  correct: number[];
  guess: number[];
  hypothesisLength: number;
  referenceLength: number;
}

/** references: [image][reference][token]; hypotheses: [image][token]. */
export function cocoBleu(references: readonly string[][][], hypotheses: readonly string[][], maxOrder = 4): CocoBleu {
  if (references.length !== hypotheses.length)
    throw new CapgenError('BAD_INPUT', `BLEU: ${hypotheses.length} hypotheses but ${references.length} reference sets`);
  const correct = new Array<number>(maxOrder).fill(0);
  const guess = new Array<number>(maxOrder).fill(0);
  let hypothesisLength = 0;
  let referenceLength = 0;
  hypotheses.forEach((hyp, i) => {
    const refs = references[i]!;
    if (!refs.length)
      throw new CapgenError('BAD_INPUT', 'BLEU: an image has no reference captions', {
        hint: 'every scored image needs at least one reference',
      });
    // Per n-gram, its largest count in any one reference.
    const maxRef = new Map<string, number>();
    for (const ref of refs)
      for (const counts of ngramCountsUpTo(ref, maxOrder)) for (const [g, c] of counts) maxRef.set(g, Math.max(maxRef.get(g) ?? 0, c));
    ngramCountsUpTo(hyp, maxOrder).forEach((counts, k) => {
      for (const [g, c] of counts) correct[k]! += Math.min(maxRef.get(g) ?? 0, c);
      guess[k]! += Math.max(0, hyp.length - k);
    });
    hypothesisLength += hyp.length;
    let closest = refs[0]!.length;
    for (const r of refs) {
      const d = Math.abs(r.length - hyp.length);
      const best = Math.abs(closest - hyp.length);
      if (d < best || (d === best && r.length < closest)) closest = r.length;
    }
    referenceLength += closest;
  });
  const ratio = (hypothesisLength + TINY) / (referenceLength + SMALL);
  const penalty = ratio < 1 ? Math.exp(1 - 1 / ratio) : 1;
  const bleu: number[] = [];
  let product = 1;
  for (let k = 0; k < maxOrder; k++) {
    product *= (correct[k]! + TINY) / (guess[k]! + SMALL);
    bleu.push(product ** (1 / (k + 1)) * penalty);
  }
  return { bleu, correct, guess, hypothesisLength, referenceLength };
}
