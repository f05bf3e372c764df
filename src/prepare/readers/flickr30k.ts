// Flickr30k's `results.csv`: `image_name| comment_number| comment`, pipe-separated and padded with
// spaces, never quoted (captions contain stray double quotes, so quoting is turned off).
import { parse } from 'csv-parse/sync';
import { CapgenError } from '../../errors.js';
import { FLICKR8K_SPLIT_FILES } from './flickr8k.js';
import { COMMON_IMAGE_DIRS, type FolderFormat, type ParsedCaptions, type RawCaption } from './types.js';

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

export const datasetFormat: FolderFormat = {
  kind: 'folder',
  name: 'flickr30k',
  help: `Flickr30k's ${FLICKR30K_CAPTIONS_FILE} (image_name| comment_number| comment), also inside flickr30k_images/ (Kaggle's layout)`,
  rank: 30,
  captionFiles: [[FLICKR30K_CAPTIONS_FILE], [`flickr30k_images/${FLICKR30K_CAPTIONS_FILE}`]],
  imageDirs: COMMON_IMAGE_DIRS,
  // split lists named like Flickr8k's are honoured in every Flickr-family folder, as they always were
  splitLists: FLICKR8K_SPLIT_FILES,
  parse: parseFlickr30kCaptions,
};
