// N-gram counting shared by BLEU and CIDEr-D, keyed as strings so Maps can count them. The hot path builds keys
// incrementally (no array per n-gram): natural's ngrams() allocates one, and garbage collection then dominated the
// 1000-image benchmark. natural stays the reference the tests compare these counts with.

/** Joins an n-gram's tokens into one Map key; U+001F (unit separator) never occurs in caption tokens. */
export const NGRAM_SEPARATOR = '\u001f';

/** Counts of the n-grams of orders 1..maxOrder (index 0 = unigrams); an order longer than the list is empty. */
export function ngramCountsUpTo(tokens: readonly string[], maxOrder: number): Map<string, number>[] {
  const counts = Array.from({ length: maxOrder }, () => new Map<string, number>());
  for (let start = 0; start < tokens.length; start++) {
    let key = tokens[start]!;
    for (let n = 1; n <= maxOrder && start + n <= tokens.length; n++) {
      if (n > 1) key += NGRAM_SEPARATOR + tokens[start + n - 1]!;
      const map = counts[n - 1]!;
      map.set(key, (map.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** Counts of the n-grams of one order in a token list (empty when the list is shorter than n). */
export function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let start = 0; start + n <= tokens.length; start++) {
    const key = tokens.slice(start, start + n).join(NGRAM_SEPARATOR);
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
