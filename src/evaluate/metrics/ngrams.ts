// N-gram counting shared by BLEU and CIDEr-D: natural's n-grams, keyed as strings so Maps can count them.
import { nGrams } from '../../text/natural.js';

/** Joins an n-gram's tokens into one Map key; U+001F (unit separator) never occurs in caption tokens. */
export const NGRAM_SEPARATOR = '\u001f';

/** Counts of the n-grams of one order in a token list (empty when the list is shorter than n). */
export function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  if (tokens.length < n) return counts;
  for (const gram of nGrams.ngrams(tokens as string[], n)) {
    const key = gram.join(NGRAM_SEPARATOR);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Exact sum of floating-point numbers (Shewchuk's algorithm, as Python's math.fsum). */
export function exactSum(values: Iterable<number>): number {
  const partials: number[] = [];
  for (let x of values) {
    let kept = 0;
    for (let y of partials) {
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[kept++] = lo;
      x = hi;
    }
    partials.length = kept;
    partials.push(x);
  }
  return partials.reduce((sum, p) => sum + p, 0);
}
