// CIDEr-D and ROUGE-L against a transcription of coco-caption's algorithm (test/reference), to 1e-6.
import { describe, expect, it } from 'vitest';
import { ciderD } from '../../../src/evaluate/metrics/cider.js';
import { lcsLength, rougeL, sentenceRougeL } from '../../../src/evaluate/metrics/rouge.js';
import { captionSets, readFixture } from './fixtures.js';

interface Scored {
  score: number;
  perImage: number[];
}
const expected = readFixture<{ images: number; ciderD: Scored; rougeL: Scored }>('caption-sets.expected.json');
const sets = captionSets();
const refs = sets.map((s) => s.references);
const hyps = sets.map((s) => s.hypothesis);

function expectClose(got: Scored, want: Scored, tolerance = 1e-6): void {
  expect(got.perImage).toHaveLength(want.perImage.length);
  got.perImage.forEach((v, i) => expect(Math.abs(v - want.perImage[i]!), `image ${i} (${sets[i]!.kind})`).toBeLessThan(tolerance));
  expect(Math.abs(got.score - want.score)).toBeLessThan(tolerance);
}

describe('CIDEr-D (coco-caption)', () => {
  it('matches the reference on real Flickr8k caption sets', () => {
    expect(sets).toHaveLength(expected.images);
    expectClose(ciderD(refs, hyps), expected.ciderD);
  });

  it('depends on the whole evaluated set (document frequencies), and is 0 for one image alone', () => {
    const firstTen = ciderD(refs.slice(0, 10), hyps.slice(0, 10));
    expect(Math.abs(firstTen.perImage[0]! - expected.ciderD.perImage[0]!)).toBeGreaterThan(1e-3);
    expect(ciderD([refs[0]!], [refs[0]![0]!]).score).toBe(0);
  });

  it('clips repeated n-grams and penalises length', () => {
    const r = [[['a', 'dog', 'runs', 'on', 'grass']], [['a', 'cat', 'sleeps']], [['two', 'men', 'talk']]];
    const exact = ciderD(r, [
      ['a', 'dog', 'runs', 'on', 'grass'],
      ['a', 'cat', 'sleeps'],
      ['two', 'men', 'talk'],
    ]).perImage[0]!;
    const repeated = ciderD(r, [
      ['a', 'dog', 'runs', 'on', 'grass', 'grass', 'grass'],
      ['a', 'cat', 'sleeps'],
      ['two', 'men', 'talk'],
    ]).perImage[0]!;
    expect(exact).toBeGreaterThan(repeated);
    expect(() => ciderD([[]], [['a']])).toThrow(/no reference/);
  });
});

describe('ROUGE-L (coco-caption)', () => {
  it('matches the reference on real Flickr8k caption sets', () => {
    expectClose(rougeL(refs, hyps), expected.rougeL);
  });

  it('LCS and the beta-weighted F of the best precision and best recall', () => {
    expect(lcsLength(['a', 'b', 'c', 'd'], ['a', 'c', 'd', 'b'])).toBe(3);
    expect(lcsLength([], ['a'])).toBe(0);
    // p = 2/2 (vs ref 1), r = 2/3 (vs ref 2): best of each taken from different references.
    const p = 1;
    const r = 2 / 3;
    const f = ((1 + 1.44) * p * r) / (r + 1.44 * p);
    expect(
      sentenceRougeL(
        [
          ['x', 'a', 'b', 'y', 'z', 'w'],
          ['a', 'b', 'q'],
        ],
        ['a', 'b'],
      ),
    ).toBeCloseTo(f, 12);
    expect(sentenceRougeL([['a']], [])).toBe(0);
  });
});
