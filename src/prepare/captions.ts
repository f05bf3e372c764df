// From captions as read to captions as trained on: duplicate ids dropped (first kept), cleaned with
// the shared rules, empty ones dropped, and long ones cut to --max-length. Pure.
import { cleanCaption, type CleaningRules } from '../text/clean.js';
import type { LineIssue, RawCaption } from './readers/types.js';

export interface CleanCaption extends RawCaption {
  tokens: string[];
}

export interface CleanedCaptions {
  captions: CleanCaption[];
  duplicates: LineIssue[];
  /** Captions with no words left after cleaning (or none to begin with). */
  empty: LineIssue[];
}

export function cleanCaptions(raw: RawCaption[], opts: { file: string; rules: CleaningRules }): CleanedCaptions {
  const seen = new Map<string, number>();
  const out: CleanedCaptions = { captions: [], duplicates: [], empty: [] };
  for (const c of raw) {
    const firstLine = seen.get(c.id);
    if (firstLine !== undefined) {
      out.duplicates.push({
        file: opts.file,
        line: c.line,
        message: `duplicate caption id ${c.id} (first at line ${firstLine}); kept the first`,
      });
      continue;
    }
    seen.set(c.id, c.line);
    const tokens = cleanCaption(c.raw, opts.rules);
    if (tokens.length === 0) {
      out.empty.push({
        file: opts.file,
        line: c.line,
        message:
          c.raw === '' ? `empty caption for ${c.image}` : `caption for ${c.image} has no words after cleaning: '${c.raw.slice(0, 40)}'`,
      });
      continue;
    }
    out.captions.push({ ...c, tokens });
  }
  return out;
}

/** Cuts captions longer than maxLength tokens; returns how many were cut. */
export function capLength(captions: CleanCaption[], maxLength: number | undefined): number {
  if (maxLength === undefined) return 0;
  let cut = 0;
  for (const c of captions) {
    if (c.tokens.length > maxLength) {
      c.tokens = c.tokens.slice(0, maxLength);
      cut++;
    }
  }
  return cut;
}

/** Nearest-rank percentiles of caption lengths (tokens), e.g. {p50, p90, p95, p99, max}. */
export function lengthPercentiles(lengths: number[], percents: number[] = [50, 90, 95, 99]): Record<string, number> {
  const sorted = [...lengths].sort((a, b) => a - b);
  const out: Record<string, number> = {};
  for (const p of percents) {
    const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
    out[`p${p}`] = sorted.length ? sorted[rank - 1]! : 0;
  }
  out.max = sorted.length ? sorted[sorted.length - 1]! : 0;
  return out;
}

/**
 * Longest caption (in tokens) trained on when --max-length is not given: the 99.9th percentile of
 * the data's lengths, so a stray giant line (a pasted paragraph, a broken file) cannot set the
 * padding of every batch, capped for files where even the percentile is absurd.
 */
export const MAX_LENGTH_PERCENTILE = 99.9;
/** Flickr8k/30k and COCO all have 99.9th percentiles under 40 words: 100 leaves room and bounds memory. */
export const MAX_LENGTH_CAP = 100;

export function defaultMaxLength(lengths: number[]): number {
  const p = lengthPercentiles(lengths, [MAX_LENGTH_PERCENTILE])[`p${MAX_LENGTH_PERCENTILE}`] ?? 0;
  return Math.max(1, Math.min(MAX_LENGTH_CAP, p));
}
