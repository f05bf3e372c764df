// Karpathy's split files (`dataset_flickr8k.json`, `dataset_flickr30k.json`, `dataset_coco.json`):
// `images[]` with `filename`, optional `filepath` (COCO), `split`, and `sentences[].raw` / `.tokens`.
import { CapgenError } from '../../errors.js';
import type { SplitName } from '../../run/formats.js';
import { FLICKR8K_SPLIT_FILES } from './flickr8k.js';
import { COMMON_IMAGE_DIRS, type FolderFormat, type ParsedCaptions, type RawCaption } from './types.js';

/** 'restval' is extra training data in Karpathy's COCO split; his 'val' is our dev split. */
const KARPATHY_SPLITS: Record<string, SplitName> = { train: 'train', restval: 'train', val: 'dev', test: 'test' };

interface KarpathySentence {
  raw?: unknown;
  tokens?: unknown;
}

function sentenceText(s: KarpathySentence): string | undefined {
  if (typeof s.raw === 'string') return s.raw;
  if (Array.isArray(s.tokens) && s.tokens.every((t) => typeof t === 'string')) return s.tokens.join(' ');
  return undefined;
}

/** `line` in the result is the 1-based index of the entry in `images` (JSON has no useful lines). */
export function parseKarpathyJson(text: string, file: string): ParsedCaptions {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new CapgenError('BAD_INPUT', `not valid JSON: ${(e as Error).message}`, { file });
  }
  const images = (doc as { images?: unknown })?.images;
  if (!Array.isArray(images)) {
    throw new CapgenError('BAD_INPUT', "no 'images' array: not a Karpathy split file", {
      file,
      hint: 'expected {"images": [{"filename", "split", "sentences"}]}',
    });
  }
  const captions: RawCaption[] = [];
  const malformed: ParsedCaptions['malformed'] = [];
  images.forEach((entry: Record<string, unknown>, i) => {
    const where = { file, line: i + 1 };
    const filename = entry?.filename;
    const split = KARPATHY_SPLITS[String(entry?.split)];
    const sentences = entry?.sentences;
    if (typeof filename !== 'string' || filename === '' || !split || !Array.isArray(sentences)) {
      malformed.push({ ...where, message: `images[${i}] needs filename, split (train|restval|val|test) and sentences` });
      return;
    }
    const image = typeof entry.filepath === 'string' && entry.filepath ? `${entry.filepath}/${filename}` : filename;
    sentences.forEach((s: KarpathySentence, j) => {
      const raw = sentenceText(s ?? {});
      if (raw === undefined) {
        malformed.push({ ...where, message: `images[${i}].sentences[${j}] has neither raw nor tokens` });
        return;
      }
      const sentid = (s as { sentid?: unknown }).sentid;
      captions.push({ image, raw: raw.trim(), id: `${image}#${typeof sentid === 'number' ? sentid : j}`, line: i + 1, split });
    });
  });
  return { file, captions, records: images.length, malformed };
}

export const datasetFormat: FolderFormat = {
  kind: 'folder',
  name: 'karpathy',
  help: "Karpathy's dataset_{flickr8k,flickr30k,coco}.json (its split: restval counts as train, val as dev)",
  rank: 40,
  captionFiles: [['dataset_*.json']],
  // COCO's entries name images by `filepath/filename`, relative to the dataset folder itself
  imageDirs: [...COMMON_IMAGE_DIRS, '.'],
  // Flickr8k's official lists, when they lie beside, win over the file's own split (as they always did)
  splitLists: FLICKR8K_SPLIT_FILES,
  parse: parseKarpathyJson,
};
