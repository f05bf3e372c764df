// COCO's own caption files, `captions_train2017.json` + `captions_val2017.json` (or 2014), read as one
// dataset: `images[]` (id, file_name) and `annotations[]` (image_id, caption), images in `train2017/`
// and `val2017/` beside them. train -> the train split; val is halved into dev and test by a hash of
// the file name, so everyone gets the same halves whatever --seed says (as with an official list).
import { createHash } from 'node:crypto';
import path from 'node:path';
import { CapgenError } from '../../errors.js';
import type { SplitName } from '../../run/formats.js';
import type { FolderFormat, ParsedCaptions, RawCaption } from './types.js';

const FILE_NAME = /captions_(train|val)(\d{4})\.json$/;

/** Half of val to dev, half to test: the first byte of the file name's SHA-256, even or odd. */
function valSplit(fileName: string): SplitName {
  return createHash('sha256').update(fileName).digest()[0]! % 2 === 0 ? 'dev' : 'test';
}

/** `line` in the result is the 1-based index of the entry in `annotations`. */
export function parseCocoCaptions(text: string, file: string): ParsedCaptions {
  const which = FILE_NAME.exec(path.basename(file));
  if (!which) {
    throw new CapgenError('BAD_INPUT', 'not a COCO caption file name (captions_{train,val}{2014,2017}.json)', {
      file,
      hint: 'the name says the split and the images folder (train2017/, val2017/)',
    });
  }
  const [, part, year] = which;
  const folder = `${part}${year}`;
  let doc: { images?: unknown; annotations?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch (e) {
    throw new CapgenError('BAD_INPUT', `not valid JSON: ${(e as Error).message}`, { file });
  }
  if (!Array.isArray(doc?.images) || !Array.isArray(doc?.annotations)) {
    throw new CapgenError('BAD_INPUT', "no 'images' and 'annotations' arrays: not a COCO caption file", {
      file,
      hint: 'expected {"images": [{"id", "file_name"}], "annotations": [{"image_id", "caption"}]}',
    });
  }
  const fileNames = new Map<unknown, string>();
  for (const img of doc.images as { id?: unknown; file_name?: unknown }[]) {
    if (typeof img?.file_name === 'string' && img.file_name !== '') fileNames.set(img.id, img.file_name);
  }
  const captions: RawCaption[] = [];
  const malformed: ParsedCaptions['malformed'] = [];
  (doc.annotations as { id?: unknown; image_id?: unknown; caption?: unknown }[]).forEach((a, i) => {
    const fileName = fileNames.get(a?.image_id);
    if (fileName === undefined || typeof a.caption !== 'string') {
      malformed.push({ file, line: i + 1, message: `annotations[${i}] needs an image_id listed in images[] and a caption` });
      return;
    }
    const image = `${folder}/${fileName}`;
    const split = part === 'train' ? 'train' : valSplit(fileName);
    captions.push({ image, raw: a.caption.trim(), id: `${image}#${typeof a.id === 'number' ? a.id : i}`, line: i + 1, split });
  });
  return { file, captions, records: doc.annotations.length, malformed };
}

const files = (year: string, dir = ''): string[] => [`${dir}captions_train${year}.json`, `${dir}captions_val${year}.json`];

export const datasetFormat: FolderFormat = {
  kind: 'folder',
  name: 'coco',
  help: "COCO's captions_train2017.json + captions_val2017.json (or 2014; also in annotations/), images in train2017/ and val2017/: train is train, val is halved into dev and test",
  rank: 50,
  captionFiles: [files('2017'), files('2017', 'annotations/'), files('2014'), files('2014', 'annotations/')],
  // file names are relative to train2017/ or val2017/, which lie in the dataset folder
  imageDirs: ['.'],
  parse: parseCocoCaptions,
};
