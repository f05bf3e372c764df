// Signs of a broken captioner that the scores alone hide: the same caption for every image, a tiny
// vocabulary, captions that never end or stutter. Pure: token lists in, statistics and warnings out.

export interface OutputDiagnostics {
  /** Distinct generated captions / images (1 = every image its own caption). */
  distinctCaptionShare: number;
  /** The caption generated most often, and the share of images that got it. */
  mostCommonCaption: { caption: string; imageShare: number };
  /** Distinct words in the generated captions, and in the references of the same images. */
  distinctWordsGenerated: number;
  distinctWordsInReferences: number;
  /** Mean caption length in words: generated, and over all references. */
  meanLengthGenerated: number;
  meanLengthReferences: number;
  /** Share of captions that stopped at the decoder's maximum length (no end token); null without a model. */
  maxLengthShare: number | null;
  maxLength: number | null;
  /** Share of captions in which some bigram / trigram occurs twice ("a man in a red shirt in a red shirt"). */
  repeatedBigramShare: number;
  repeatedTrigramShare: number;
  /** One sentence per statistic that points to a broken model (empty when none does). */
  warnings: string[];
}

// Thresholds of the warnings. A trained merge decoder on Flickr8k gives 20-40% distinct captions
// (greedy) and a most common caption on a few % of the images; the synthetic demo, ~60%.
const MIN_DISTINCT_SHARE = 0.1; // below: the decoder ignores the image (every image got the same few captions)
const MAX_COMMON_SHARE = 0.3; // above: one caption stands in for a third of the images
const MAX_AT_LIMIT_SHARE = 0.2; // above: the model rarely predicts the end token
const MAX_REPEAT_SHARE = 0.2; // above: loops such as "in a red shirt in a red shirt"
const LENGTH_RATIO_RANGE = [0.5, 1.5] as const; // outside: far shorter / longer than people write

/** Does the caption hold some n words in a row twice? (also the definition `--block-ngrams` is tested against) */
export function hasRepeatedNgram(tokens: readonly string[], n: number): boolean {
  const seen = new Set<string>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join(' ');
    if (seen.has(key)) return true;
    seen.add(key);
  }
  return false;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/**
 * hypotheses: [image][token]; references: [image][reference][token]; maxLength: the decoder's word
 * limit (a caption of exactly that many words hit it), or undefined for a predictions file.
 */
export function outputDiagnostics(
  hypotheses: readonly string[][],
  references: readonly string[][][],
  maxLength?: number,
): OutputDiagnostics {
  const images = hypotheses.length;
  const share = (count: number) => (images ? count / images : 0);
  const counts = new Map<string, number>();
  for (const h of hypotheses) counts.set(h.join(' '), (counts.get(h.join(' ')) ?? 0) + 1);
  let common = { caption: '', count: 0 };
  for (const [caption, count] of counts)
    if (count > common.count || (count === common.count && caption < common.caption)) common = { caption, count };
  const allRefs = references.flat();
  const mean = (lists: readonly (readonly string[])[]) => (lists.length ? lists.reduce((a, l) => a + l.length, 0) / lists.length : 0);
  const d: OutputDiagnostics = {
    distinctCaptionShare: share(counts.size),
    mostCommonCaption: { caption: common.caption, imageShare: share(common.count) },
    distinctWordsGenerated: new Set(hypotheses.flat()).size,
    distinctWordsInReferences: new Set(allRefs.flat()).size,
    meanLengthGenerated: mean(hypotheses),
    meanLengthReferences: mean(allRefs),
    maxLengthShare: maxLength === undefined ? null : share(hypotheses.filter((h) => h.length >= maxLength).length),
    maxLength: maxLength ?? null,
    repeatedBigramShare: share(hypotheses.filter((h) => hasRepeatedNgram(h, 2)).length),
    repeatedTrigramShare: share(hypotheses.filter((h) => hasRepeatedNgram(h, 3)).length),
    warnings: [],
  };
  if (images < 2) return d; // one image: no statistic over images means anything
  const w = d.warnings;
  if (d.distinctCaptionShare < MIN_DISTINCT_SHARE)
    w.push(
      `only ${pct(d.distinctCaptionShare)} of the captions are distinct: the decoder is ignoring the images (features all alike? the wrong encoder for this checkpoint? too little training?)`,
    );
  if (d.mostCommonCaption.imageShare > MAX_COMMON_SHARE)
    w.push(`"${d.mostCommonCaption.caption}" is the caption of ${pct(d.mostCommonCaption.imageShare)} of the images`);
  if (d.maxLengthShare !== null && d.maxLengthShare > MAX_AT_LIMIT_SHARE)
    w.push(`${pct(d.maxLengthShare)} of the captions stop at the ${maxLength}-word limit: the model rarely predicts the end of a caption`);
  if (d.repeatedTrigramShare > MAX_REPEAT_SHARE)
    w.push(`${pct(d.repeatedTrigramShare)} of the captions repeat a three-word phrase: the decoder loops`);
  const ratio = d.meanLengthReferences ? d.meanLengthGenerated / d.meanLengthReferences : 1;
  if (ratio < LENGTH_RATIO_RANGE[0] || ratio > LENGTH_RATIO_RANGE[1]) {
    w.push(
      `captions average ${d.meanLengthGenerated.toFixed(1)} words against ${d.meanLengthReferences.toFixed(1)} in the references: BLEU's brevity penalty and CIDEr's length penalty dominate the scores`,
    );
  }
  return d;
}
