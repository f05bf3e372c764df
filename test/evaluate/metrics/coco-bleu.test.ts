// BLEU under coco-caption's convention against the values of test/reference/coco_bleu.py (pycocoevalcap's
// bleu_scorer.py algorithm), pinned in test/fixtures/metrics/coco-bleu.json; and where it parts from NLTK.
import { describe, expect, it } from 'vitest';
import { corpusBleu } from '../../../src/evaluate/metrics/bleu.js';
import { cocoBleu } from '../../../src/evaluate/metrics/coco-bleu.js';
import { captionSets, readFixture, toTokens } from './fixtures.js';

interface Pinned {
  bleu: number[];
  correct: number[];
  guess: number[];
  hypothesisLength: number;
  referenceLength: number;
  references?: string[][];
  hypotheses?: string[];
}
const pinned = readFixture<{ cases: Record<string, Pinned> }>('coco-bleu.json').cases;

function inputs(name: string): { refs: string[][][]; hyps: string[][] } {
  if (name === 'caption-sets') {
    const sets = captionSets();
    return { refs: sets.map((s) => s.references), hyps: sets.map((s) => s.hypothesis) };
  }
  const c = pinned[name]!;
  return { refs: c.references!.map((rs) => rs.map(toTokens)), hyps: c.hypotheses!.map(toTokens) };
}

describe('coco-caption BLEU', () => {
  for (const name of ['caption-sets', 'short', 'no-4gram', 'long-and-tie']) {
    it(`equals the reference implementation on '${name}'`, () => {
      const { refs, hyps } = inputs(name);
      const got = cocoBleu(refs, hyps);
      const want = pinned[name]!;
      expect(got.correct).toEqual(want.correct);
      expect(got.guess).toEqual(want.guess);
      expect([got.hypothesisLength, got.referenceLength]).toEqual([want.hypothesisLength, want.referenceLength]);
      got.bleu.forEach((b, i) => expect(Math.abs(b - want.bleu[i]!) / want.bleu[i]!, `BLEU-${i + 1}`).toBeLessThan(1e-12));
    });
  }

  it('parts from NLTK where the conventions differ, and agrees where they do not', () => {
    // Captions shorter than 3 words: NLTK counts at least one n-gram per caption and order, coco none.
    const short = inputs('short');
    expect(Math.abs(corpusBleu(short.refs, short.hyps).bleu[1]! - cocoBleu(short.refs, short.hyps).bleu[1]!)).toBeGreaterThan(0.05);
    // Every caption at least 4 words long, some 4-gram matched: the same number up to the 1e-9 guards.
    const sets = inputs('caption-sets');
    const keep = sets.hyps.map((h, i) => (h.length >= 4 ? i : -1)).filter((i) => i >= 0);
    const nltk = corpusBleu(
      keep.map((i) => sets.refs[i]!),
      keep.map((i) => sets.hyps[i]!),
    ).bleu;
    const coco = cocoBleu(
      keep.map((i) => sets.refs[i]!),
      keep.map((i) => sets.hyps[i]!),
    ).bleu;
    nltk.forEach((b, i) => expect(Math.abs(b - coco[i]!)).toBeLessThan(1e-8));
  });
});
