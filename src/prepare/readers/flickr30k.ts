// Flickr30k's `results.csv`: `image_name| comment_number| comment`, pipe-separated and padded with
// spaces, never quoted (captions contain stray double quotes, so quoting is turned off).
import { parse } from 'csv-parse/sync';
import { CapgenError } from '../../errors.js';
import type { ParsedCaptions, RawCaption } from './types.js';

export const FLICKR30K_CAPTIONS_FILE = 'results.csv';

export function parseFlickr30kCaptions(text: string, file: string): ParsedCaptions {
  const all = parse(text, {
    delimiter: '|',
    quote: false,
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
  }) as unknown as { record: string[]; info: { lines: number } }[];
  // Fields are trimmed here, not by csv-parse, so spaces around a '|' inside a caption survive.
  const rows = all.filter((r) => r.record.join('').trim() !== '');
  const first = rows[0];
  const header = first ? first.record.map((f) => f.trim().toLowerCase()).join('|') : '';
  if (header !== 'image_name|comment_number|comment') {
    throw new CapgenError('BAD_INPUT', `expected the header 'image_name| comment_number| comment', found '${header.slice(0, 50)}'`, {
      file,
      line: first?.info.lines ?? 1,
      hint: 'pick another format with --format',
    });
  }
  const captions: RawCaption[] = [];
  const malformed: ParsedCaptions['malformed'] = [];
  for (const { record, info } of rows.slice(1)) {
    const [rawImage = '', rawNumber = '', ...rest] = record;
    const image = rawImage.trim();
    const number = rawNumber.trim();
    if (record.length < 3 || image === '' || !/^\d+$/.test(number)) {
      malformed.push({ file, line: info.lines, message: 'expected image_name| comment_number| comment' });
      continue;
    }
    captions.push({ image, raw: rest.join('|').trim(), id: `${image}#${number}`, line: info.lines });
  }
  return { file, captions, records: rows.length - 1, malformed };
}
