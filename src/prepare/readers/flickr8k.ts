// Flickr8k's original files: `Flickr8k.token.txt` (`IMAGE.jpg#N<TAB>caption`) and the split
// lists `Flickr_8k.{train,dev,test}Images.txt` (one image name a line).
import { splitLines } from '../text-file.js';
import { COMMON_IMAGE_DIRS, type FolderFormat, type ParsedCaptions, type RawCaption } from './types.js';

export const FLICKR8K_TOKEN_FILE = 'Flickr8k.token.txt';
export const FLICKR8K_SPLIT_FILES = {
  train: 'Flickr_8k.trainImages.txt',
  dev: 'Flickr_8k.devImages.txt',
  test: 'Flickr_8k.testImages.txt',
} as const;

// A tab is the separator; some re-distributions use spaces, which are accepted too.
const TOKEN_LINE = /^(\S+?)#(\d+)(?:\s+(.*))?$/;

export function parseFlickr8kTokens(text: string, file: string): ParsedCaptions {
  const captions: RawCaption[] = [];
  const malformed: ParsedCaptions['malformed'] = [];
  let records = 0;
  splitLines(text).forEach((line, i) => {
    if (line.trim() === '') return;
    records++;
    const m = TOKEN_LINE.exec(line.trim());
    if (!m) {
      malformed.push({ file, line: i + 1, message: 'expected IMAGE.jpg#N<TAB>caption' });
      return;
    }
    if (m[3] === undefined) {
      malformed.push({ file, line: i + 1, message: 'no caption after the id' });
      return;
    }
    const image = m[1]!;
    captions.push({ image, raw: m[3].trim(), id: `${image}#${m[2]}`, line: i + 1 });
  });
  return { file, captions, records, malformed };
}

/** A split list: image names, one a line; blank lines ignored. */
export function parseSplitList(text: string): string[] {
  return splitLines(text)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

export const datasetFormat: FolderFormat = {
  kind: 'folder',
  name: 'flickr8k',
  help: `Flickr8k's ${FLICKR8K_TOKEN_FILE} (IMAGE.jpg#N<TAB>caption) with the Flickr_8k.{train,dev,test}Images.txt split lists`,
  rank: 10,
  captionFiles: [[FLICKR8K_TOKEN_FILE]],
  imageDirs: COMMON_IMAGE_DIRS,
  splitLists: FLICKR8K_SPLIT_FILES,
  parse: parseFlickr8kTokens,
};
