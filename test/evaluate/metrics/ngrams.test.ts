// The fast n-gram counter against natural's ngrams(), and the exact float sum against known exact results.
import { describe, expect, it } from 'vitest';
import { exactSum, NGRAM_SEPARATOR, ngramCounts, ngramCountsUpTo } from '../../../src/evaluate/metrics/ngrams.js';
import { natural } from '../../../src/text/natural.js';
import { captionSets } from './fixtures.js';

function naturalCounts(tokens: string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  if (tokens.length < n) return counts; // natural returns [] here too; the guard keeps the oracle obvious
  for (const gram of natural().NGrams.ngrams(tokens, n)) {
    const key = gram.join(NGRAM_SEPARATOR);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

describe('n-gram counts', () => {
  it('equal counts built from natural ngrams() for every caption of the fixture, orders 1..5', () => {
    const captions = captionSets().flatMap((s) => [s.hypothesis, ...s.references]);
    expect(captions.some((c) => c.length === 0)).toBe(true);
    for (const tokens of captions) {
      const upTo = ngramCountsUpTo(tokens, 5);
      for (let n = 1; n <= 5; n++) {
        const want = naturalCounts(tokens, n);
        expect(upTo[n - 1]).toEqual(want);
        expect(ngramCounts(tokens, n)).toEqual(want);
      }
    }
    expect(ngramCountsUpTo(['a', 'b', 'a', 'b'], 2)[1]!.get(`a${NGRAM_SEPARATOR}b`)).toBe(2);
  });
});

describe('exactSum (math.fsum)', () => {
  it('sums without rounding error where naive addition loses digits', () => {
    expect(exactSum([1e100, 1, -1e100])).toBe(1);
    expect(exactSum(new Array(10).fill(0.1))).toBe(1);
    expect(new Array(10).fill(0.1).reduce((a, b) => a + b, 0)).not.toBe(1);
    expect(exactSum([])).toBe(0);
  });
});
