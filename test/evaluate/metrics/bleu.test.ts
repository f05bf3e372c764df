// BLEU against golden values computed by NLTK 3.8 (test/reference/make_metric_fixtures.py), to 1e-9.
import { describe, expect, it } from 'vitest';
import { corpusBleu, corpusBleuWeights, meanSentenceBleu, sentenceBleu, type SmoothingMethod } from '../../../src/evaluate/metrics/bleu.js';
import { captionSets, readFixture } from './fixtures.js';

interface BleuCase {
  name: string;
  references?: string[][][];
  hypotheses?: string[][];
  captionSets?: number[];
  weights: number[][];
  smoothing: SmoothingMethod;
  expected: number[] | string;
  documented?: number[];
}
const fixture = readFixture<{
  cases: BleuCase[];
  meanSentence: { references: string[][][]; hypotheses: string[][]; expected: number; documented: number };
}>('bleu.json');
const sets = captionSets();

function inputs(c: BleuCase): { refs: string[][][]; hyps: string[][] } {
  if (c.captionSets) return { refs: c.captionSets.map((i) => sets[i]!.references), hyps: c.captionSets.map((i) => sets[i]!.hypothesis) };
  return { refs: c.references!, hyps: c.hypotheses! };
}

const TOLERANCE = 1e-9;

describe('corpusBleuWeights matches NLTK corpus_bleu', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { refs, hyps } = inputs(c);
    if (typeof c.expected === 'string') {
      // NLTK raises (method6 needs trigram matches); capgen refuses with a CapgenError.
      expect(() => corpusBleuWeights(refs, hyps, c.weights, c.smoothing)).toThrow(/method6/);
      return;
    }
    const got = corpusBleuWeights(refs, hyps, c.weights, c.smoothing);
    expect(got).toHaveLength(c.expected.length);
    got.forEach((v, i) => expect(Math.abs(v - (c.expected as number[])[i]!)).toBeLessThan(TOLERANCE));
    // NLTK's own documented numbers (4 decimals, truncated by its doctests' ellipsis).
    c.documented?.forEach((d, i) => expect(Math.floor(got[i]! * 1e4) / 1e4).toBeCloseTo(d, 10));
  });
});

describe('corpusBleu / sentenceBleu / meanSentenceBleu', () => {
  it('corpusBleu gives cumulative BLEU-1..4, identical to the NLTK weight-list call', () => {
    const cumulative = fixture.cases.filter((c) => c.captionSets && c.captionSets.length > 1);
    expect(cumulative.length).toBe(8);
    for (const c of cumulative) {
      if (typeof c.expected === 'string') continue;
      const { refs, hyps } = inputs(c);
      const got = corpusBleu(refs, hyps, { smoothing: c.smoothing });
      got.bleu.forEach((v, i) => expect(Math.abs(v - (c.expected as number[])[i]!)).toBeLessThan(TOLERANCE));
      expect(got.hypothesisLength).toBe(hyps.reduce((n, h) => n + h.length, 0));
      expect(got.brevityPenalty).toBeLessThanOrEqual(1);
    }
  });

  it('sentenceBleu equals NLTK sentence_bleu on single-sentence cases', () => {
    const single = fixture.cases.filter((c) => c.weights.length === 1 && typeof c.expected !== 'string' && inputs(c).hyps.length === 1);
    expect(single.length).toBeGreaterThan(50);
    for (const c of single) {
      const { refs, hyps } = inputs(c);
      const got = sentenceBleu(refs[0]!, hyps[0]!, { weights: c.weights[0], smoothing: c.smoothing });
      expect(Math.abs(got - (c.expected as number[])[0]!)).toBeLessThan(TOLERANCE);
    }
  });

  it('mean sentence BLEU reproduces the NLTK docstring example (0.6223...)', () => {
    const m = fixture.meanSentence;
    const got = meanSentenceBleu(m.references, m.hypotheses);
    expect(Math.abs(got.score - m.expected)).toBeLessThan(TOLERANCE);
    expect(Math.floor(got.score * 1e4) / 1e4).toBeCloseTo(m.documented, 10);
    expect(got.perImage).toHaveLength(2);
  });

  it('rejects mismatched inputs and images without references', () => {
    expect(() => corpusBleu([[['a']]], [['a'], ['b']])).toThrow(/2 hypotheses but 1/);
    expect(() => corpusBleu([[]], [['a']])).toThrow(/no reference/);
  });
});
