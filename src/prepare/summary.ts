// The closing summary of `capgen prepare`: what a user checks first (counts, vocabulary, splits,
// lengths), as a value for --json and as a few lines for stderr.
import { formatSeconds } from '../log.js';
import type { SplitName } from '../run/formats.js';
import type { DatasetFormat } from './readers/types.js';
import type { SplitSource } from './splits.js';

export interface PrepareSummary {
  dataDir: string;
  format: DatasetFormat;
  outDir: string;
  images: number;
  captions: number;
  vocabularySize: number;
  minCount: number;
  /** Share of training caption tokens the vocabulary covers (0..1). */
  coverage: number;
  splitSource: SplitSource;
  splitImages: Record<SplitName, number>;
  splitCaptions: Record<SplitName, number>;
  /** Caption lengths in tokens before --max-length: p50, p90, p95, p99, max. */
  lengthPercentiles: Record<string, number>;
  maxCaptionLength: number;
  truncated: number;
  malformedLines: number;
  duplicateCaptions: number;
  emptyCaptions: number;
  missingImages: number;
  unlistedImages: number;
  badImages: number;
  features: { dir: string; architecture: string; computed: number; reused: number } | null;
  elapsedMs: number;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

export function formatSummary(s: PrepareSummary): string {
  const split = (r: Record<SplitName, number>): string => `train ${r.train}, dev ${r.dev}, test ${r.test}`;
  const lengths = Object.entries(s.lengthPercentiles)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const skipped = [
    `${s.missingImages} missing`,
    `${s.badImages} unreadable`,
    s.splitSource === 'official' ? `${s.unlistedImages} in no split list` : '',
  ].filter(Boolean);
  const lines = [
    `prepared ${s.format} dataset ${s.dataDir} -> ${s.outDir} in ${formatSeconds(s.elapsedMs / 1000)}`,
    `  images      ${s.images} (${split(s.splitImages)}; ${s.splitSource} split); left out: ${skipped.join(', ')}`,
    `  captions    ${s.captions} (${split(s.splitCaptions)}); skipped: ${s.malformedLines} malformed, ${s.duplicateCaptions} duplicate, ${s.emptyCaptions} empty`,
    `  vocabulary  ${s.vocabularySize} ids (4 reserved + words seen >= ${s.minCount} times in train), covering ${pct(s.coverage)} of train tokens`,
    `  length      ${lengths} tokens; max kept ${s.maxCaptionLength}${s.truncated ? ` (${s.truncated} captions cut)` : ''}`,
  ];
  if (s.features) {
    lines.push(
      `  features    ${s.features.architecture} in ${s.features.dir} (${s.features.computed} computed, ${s.features.reused} reused)`,
    );
  }
  return lines.join('\n');
}
