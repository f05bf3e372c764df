// metrics.json: every score, and everything needed to say how it was obtained.
import type { DecodeOptions } from '../decode/index.js';
import type { EncoderIdentity } from '../run/formats.js';
import type { CleaningRules } from '../text/clean.js';
import type { CaptionScores, SmoothingMethod } from './metrics/index.js';

/** The headline numbers of CaptionScores (their meanings are documented there). */
export type MetricValues = Pick<CaptionScores, 'bleu1' | 'bleu2' | 'bleu3' | 'bleu4' | 'meanSentenceBleu4' | 'ciderD' | 'rougeL' | 'meteor'>;

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
  /** How captions were produced: decoding settings, or the predictions file scored. */
  source:
    | { kind: 'model'; checkpoint: string; epoch: number; architecture: string; encoder: EncoderIdentity; decoding: DecodeOptions & { batchSize: number } }
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

/** The stdout table: one metric a line. */
export function formatMetricsTable(r: EvalRecord): string {
  const width = Math.max(...Object.values(METRIC_LABELS).map((l) => l.length));
  const lines = (Object.keys(METRIC_LABELS) as (keyof MetricValues)[]).map((k) => `${METRIC_LABELS[k].padEnd(width)}  ${r.metrics[k].toFixed(4)}`);
  const how = r.source.kind === 'model' ? `${r.source.decoding.beamSize === 1 ? 'greedy' : `beam ${r.source.decoding.beamSize}, length penalty ${r.source.decoding.lengthPenalty}`}` : `predictions from ${r.source.file}`;
  return [`${r.split}: ${r.images} images, ${r.references} references, ${how}, BLEU smoothing ${r.bleu.smoothing}`, ...lines].join('\n');
}
