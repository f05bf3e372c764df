// What every dataset reader returns: captions as written, with where they came from, and the
// lines it had to skip. Readers are pure (text in, values out); run.ts does the disk I/O.
import { CapgenError } from '../../errors.js';
import type { SplitName } from '../../run/formats.js';

export type DatasetFormat = 'flickr8k' | 'kaggle' | 'flickr30k' | 'karpathy';
export const DATASET_FORMATS: readonly DatasetFormat[] = ['flickr8k', 'kaggle', 'flickr30k', 'karpathy'];

export interface RawCaption {
  /** Image path relative to the images folder. */
  image: string;
  /** Caption text as written in the file. */
  raw: string;
  /** Unique caption id: `image#N` from the file, or `image#<index in file>` when it has none. */
  id: string;
  /** 1-based line in the caption file (for Karpathy JSON: the image's index in `images`, 1-based). */
  line: number;
  /** Only the Karpathy format carries its own split. */
  split?: SplitName;
}

export interface LineIssue {
  file: string;
  line: number;
  message: string;
}

export interface ParsedCaptions {
  file: string;
  captions: RawCaption[];
  /** Data records looked at (blank lines and headers not counted): the base of the 1% rule. */
  records: number;
  malformed: LineIssue[];
}

/** Above this share of malformed records the file is probably not the format we think. */
export const MAX_MALFORMED_SHARE = 0.01;

/** Throws BAD_INPUT when more than 1% of the records were malformed. */
export function checkMalformedShare(parsed: ParsedCaptions, format: DatasetFormat): void {
  const bad = parsed.malformed.length;
  if (bad === 0 || bad <= MAX_MALFORMED_SHARE * parsed.records) return;
  const first = parsed.malformed[0]!;
  const share = ((100 * bad) / Math.max(1, parsed.records)).toFixed(1);
  throw new CapgenError(
    'BAD_INPUT',
    `${bad} of ${parsed.records} records (${share}%) are malformed for the ${format} format, more than ${MAX_MALFORMED_SHARE * 100}%; first at line ${first.line}: ${first.message}`,
    {
      file: parsed.file,
      hint: `check the file, or pick the format with --format ${DATASET_FORMATS.join('|')}`,
    },
  );
}
