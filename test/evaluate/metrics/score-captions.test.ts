// scoreCaptions: every metric in one call, each equal to its reference value on the Flickr8k caption sets.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SMOOTHING, describeMetrics, scoreCaptions } from '../../../src/evaluate/metrics/index.js';
import { loadWordNet } from '../../../src/evaluate/metrics/wordnet.js';
import { captionSets, readFixture } from './fixtures.js';

interface Scored {
  score: number;
  perImage: number[];
}
const expected = readFixture<{
  ciderD: Scored;
  rougeL: Scored;
  meteor: Scored;
  bleu: Record<string, number[]>;
  sentenceBleu4: Record<string, number[]>;
}>('caption-sets.expected.json');
const sets = captionSets();
const refs = sets.map((s) => s.references);
const hyps = sets.map((s) => s.hypothesis);
const wordnet = loadWordNet();

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('scoreCaptions', () => {
  it('reports corpus BLEU-1..4, mean sentence BLEU-4, CIDEr-D, ROUGE-L and METEOR as the references compute them', () => {
    const s = scoreCaptions(refs, hyps, { wordnet });
    expect(s.smoothing).toBe(DEFAULT_SMOOTHING);
    [s.bleu1, s.bleu2, s.bleu3, s.bleu4].forEach((v, i) => expect(Math.abs(v - expected.bleu.method0![i]!)).toBeLessThan(1e-9));
    expect(Math.abs(s.meanSentenceBleu4 - mean(expected.sentenceBleu4.method0!))).toBeLessThan(1e-9);
    expect(Math.abs(s.ciderD - expected.ciderD.score)).toBeLessThan(1e-6);
    expect(Math.abs(s.rougeL - expected.rougeL.score)).toBeLessThan(1e-6);
    expect(Math.abs(s.meteor - expected.meteor.score)).toBeLessThan(1e-6);
    expect(s.perImage).toHaveLength(sets.length);
    s.perImage.forEach((p, i) => {
      expect(Math.abs(p.bleu4 - expected.sentenceBleu4.method0![i]!)).toBeLessThan(1e-9);
      expect(Math.abs(p.ciderD - expected.ciderD.perImage[i]!)).toBeLessThan(1e-6);
      expect(Math.abs(p.meteor - expected.meteor.perImage[i]!)).toBeLessThan(1e-6);
    });
    expect(s.bleuDetails.hypothesisLength).toBe(hyps.reduce((n, h) => n + h.length, 0));
  });

  it('applies the chosen smoothing to corpus and sentence BLEU separately', () => {
    const s = scoreCaptions(refs, hyps, { wordnet, smoothing: 'method2', sentenceSmoothing: 'method1' });
    [s.bleu1, s.bleu2, s.bleu3, s.bleu4].forEach((v, i) => expect(Math.abs(v - expected.bleu.method2![i]!)).toBeLessThan(1e-9));
    expect(Math.abs(s.meanSentenceBleu4 - mean(expected.sentenceBleu4.method1!))).toBeLessThan(1e-9);
    const notes = describeMetrics(s);
    expect(notes.bleu).toContain('smoothing method2');
    expect(notes.meanSentenceBleu4).toContain('smoothing method1');
  });
});
