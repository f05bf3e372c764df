// Kaggle's Flickr8k `captions.txt`: CSV with header `image,caption`, where captions are quoted only
// sometimes and unquoted ones may contain commas: the first field is the image, the rest the caption.
import { parse } from 'csv-parse/sync';
import { CapgenError } from '../../errors.js';
import { splitLines } from '../text-file.js';
import { FLICKR8K_SPLIT_FILES } from './flickr8k.js';
import { COMMON_IMAGE_DIRS, type FolderFormat, type ParsedCaptions, type RawCaption } from './types.js';

export const KAGGLE_CAPTIONS_FILE = 'captions.txt';

/**
 * Each line is parsed on its own, so one stray quote cannot swallow the rest of the file (a
 * whole-file CSV parse would read on to the next quote). Lines without a quote cannot be
 * ambiguous, so they skip csv-parse: the first comma ends the image name.
 */
function splitRecord(line: string): string[] {
  if (!line.includes('"')) {
    const comma = line.indexOf(',');
    return comma < 0 ? [line] : [line.slice(0, comma), line.slice(comma + 1)];
  }
  const rows = parse(line, { relax_column_count: true, relax_quotes: true }) as string[][];
  if (rows.length !== 1) throw new Error('not one CSV record');
  const [image = '', ...rest] = rows[0]!;
  return rest.length ? [image, rest.join(',')] : [image];
}

export function parseKaggleCaptions(text: string, file: string): ParsedCaptions {
  const lines = splitLines(text);
  const headerIndex = lines.findIndex((l) => l.trim() !== '');
  const found = headerIndex < 0 ? '' : lines[headerIndex]!.trim();
  const header = found.toLowerCase().replace(/\s+/g, '');
  if (header !== 'image,caption') {
    // The line as written (spaces kept): that is what the user will look for in the file.
    throw new CapgenError(
      'BAD_INPUT',
      `expected the header 'image,caption', found '${found.length > 60 ? `${found.slice(0, 60)}...` : found}'`,
      {
        file,
        line: headerIndex + 1,
        hint: 'Kaggle Flickr8k captions.txt starts with image,caption; pick another format with --format',
      },
    );
  }
  const captions: RawCaption[] = [];
  const malformed: ParsedCaptions['malformed'] = [];
  let records = 0;
  const perImage = new Map<string, number>();
  for (let i = headerIndex + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    records++;
    let fields: string[];
    try {
      fields = splitRecord(line);
    } catch (e) {
      malformed.push({ file, line: i + 1, message: `bad CSV quoting (${(e as Error).message.split('\n')[0]})` });
      continue;
    }
    const image = fields[0]!.trim();
    if (fields.length < 2 || image === '') {
      malformed.push({ file, line: i + 1, message: image === '' ? 'no image name' : 'no caption after the image name' });
      continue;
    }
    // Kaggle has no caption ids; number captions per image in file order, as Flickr8k does.
    const n = perImage.get(image) ?? 0;
    perImage.set(image, n + 1);
    captions.push({ image, raw: fields[1]!.trim(), id: `${image}#${n}`, line: i + 1 });
  }
  return { file, captions, records, malformed };
}

export const datasetFormat: FolderFormat = {
  kind: 'folder',
  name: 'kaggle',
  help: `Kaggle's Flickr8k ${KAGGLE_CAPTIONS_FILE} (CSV image,caption; unquoted captions may contain commas)`,
  rank: 20,
  captionFiles: [[KAGGLE_CAPTIONS_FILE]],
  imageDirs: COMMON_IMAGE_DIRS,
  // the same images as Flickr8k: its official lists apply when they lie beside
  splitLists: FLICKR8K_SPLIT_FILES,
  parse: parseKaggleCaptions,
};
