// metrics.json: every score, and everything needed to say how it was obtained.
import { describeDecoding, type DecodeOptions } from '../decode/index.js';
import type { EncoderIdentity } from '../run/formats.js';
import type { CleaningRules } from '../text/clean.js';
import type { OutputDiagnostics } from './diagnostics.js';
import type { CaptionScores, SmoothingMethod } from './metrics/index.js';

/** The headline numbers of CaptionScores (their meanings are documented there). */
export type MetricValues = Pick<
  CaptionScores,
  'bleu1' | 'bleu2' | 'bleu3' | 'bleu4' | 'meanSentenceBleu4' | 'ciderD' | 'rougeL' | 'meteor'
>;

export const METRIC_LABELS: Record<keyof MetricValues, string> = {
  bleu1: 'BLEU-1 (corpus)',
  bleu2: 'BLEU-2 (corpus)',
  bleu3: 'BLEU-3 (corpus)',
  bleu4: 'BLEU-4 (corpus)',
  meanSentenceBleu4: 'BLEU-4 (mean of sentence BLEU)',
  ciderD: 'CIDEr-D',
  rougeL: 'ROUGE-L',
  meteor: 'METEOR',
};

export interface EvalRecord {
  createdAt: string;
  /** The split scored; `predictions` mode lists the splits its images belong to. */
  split: string;
  images: number;
  references: number;
  metrics: MetricValues;
  bleu: CaptionScores['bleuDetails'] & { smoothing: SmoothingMethod; sentenceSmoothing: SmoothingMethod; weights: string };
  /** BLEU-1..4 under coco-caption's convention (pycocoevalcap), on the same tokens: what most papers print. */
  cocoBleu: {
    bleu1: number;
    bleu2: number;
    bleu3: number;
    bleu4: number;
    hypothesisLength: number;
    referenceLength: number;
    convention: string;
  };
  /** Statistics of the generated captions that reveal a broken model, and the warnings they raise. */
  diagnostics: OutputDiagnostics;
  /** One line saying how the numbers were obtained (split, references, tokens, BLEU conventions). */
  protocol: string;
  /** How captions were produced: decoding settings, or the predictions file scored. */
  source:
    | {
        kind: 'model';
        checkpoint: string;
        epoch: number;
        architecture: string;
        encoder: EncoderIdentity;
        decoding: DecodeOptions & { batchSize: number };
      }
    | { kind: 'predictions'; file: string };
  cleaning: CleaningRules;
  /** Images of the split left out, and why (no features in the cache). */
  skipped: { image: string; reason: string }[];
  elapsedSeconds: { decoding: number; scoring: number; total: number };
  backend?: string;
}

export function metricValues(s: CaptionScores): MetricValues {
  const { bleu1, bleu2, bleu3, bleu4, meanSentenceBleu4, ciderD, rougeL, meteor } = s;
  return { bleu1, bleu2, bleu3, bleu4, meanSentenceBleu4, ciderD, rougeL, meteor };
}

export const COCO_BLEU_CONVENTION =
  "coco-caption (pycocoevalcap bleu_scorer.py): n-grams counted per caption with 0 for orders longer than the caption, precisions (correct + 1e-15) / (guess + 1e-9) with no smoothing, closest reference length (ties: the shorter); on capgen's tokens, not coco's PTB tokenizer";

/** The protocol line printed with every table: what two numbers must share to be compared. */
export function protocolLine(r: Pick<EvalRecord, 'split' | 'images' | 'references' | 'cleaning' | 'bleu'>): string {
  const c = r.cleaning;
  const rules = [
    c.lowercase ? 'lower-cased' : 'case kept',
    c.stripPunctuation ? 'punctuation deleted' : 'punctuation kept',
    c.alphabeticOnly ? 'non-alphabetic tokens dropped' : 'all tokens kept',
    c.keepOneLetterWords ? 'one-letter words ("a") kept' : 'one-letter words ("a") DROPPED (inflates BLEU)',
  ];
  const perImage = r.images ? (r.references / r.images).toFixed(1) : '0';
  return (
    `protocol: ${r.split} split, ${r.images} images, ${perImage} references per image; tokens ${rules.join(', ')} (${c.tokenizer}); ` +
    `BLEU as NLTK corpus_bleu, smoothing ${r.bleu.smoothing}; coco-caption BLEU unsmoothed; both on the same tokens`
  );
}

/**
 * The stdout table: the protocol, one metric a line, BLEU under both conventions, then the output
 * diagnostics and (unless `warnings: false`) their warnings, which eval also logs on stderr.
 */
export function formatMetricsTable(r: EvalRecord, opts: { warnings?: boolean } = {}): string {
  const coco = ([1, 2, 3, 4] as const).map((n) => [`BLEU-${n} (coco-caption)`, r.cocoBleu[`bleu${n}`]] as const);
  const rows = [...(Object.keys(METRIC_LABELS) as (keyof MetricValues)[]).map((k) => [METRIC_LABELS[k], r.metrics[k]] as const), ...coco];
  const width = Math.max(...rows.map(([l]) => l.length));
  const lines = rows.map(([label, value]) => `${label.padEnd(width)}  ${value.toFixed(4)}`);
  const how = r.source.kind === 'model' ? describeDecoding(r.source.decoding) : `predictions from ${r.source.file}`;
  const d = r.diagnostics;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const output = [
    `captions: ${pct(d.distinctCaptionShare)} distinct; most common on ${pct(d.mostCommonCaption.imageShare)} of the images ("${d.mostCommonCaption.caption}"); ` +
      `${d.distinctWordsGenerated} distinct words (references: ${d.distinctWordsInReferences}); mean length ${d.meanLengthGenerated.toFixed(1)} words (references: ${d.meanLengthReferences.toFixed(1)})`,
    `captions: ${d.maxLengthShare === null ? 'maximum length unknown (predictions file)' : `${pct(d.maxLengthShare)} at the ${d.maxLength}-word limit`}; ` +
      `a repeated bigram in ${pct(d.repeatedBigramShare)}, a repeated trigram in ${pct(d.repeatedTrigramShare)}`,
    ...(opts.warnings === false ? [] : d.warnings.map((w) => `WARNING: ${w}`)),
  ];
  return [
    `${r.split}: ${r.images} images, ${r.references} references, ${how}, BLEU smoothing ${r.bleu.smoothing}`,
    r.protocol,
    ...lines,
    ...output,
  ].join('\n');
}
