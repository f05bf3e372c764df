// Finding what is in a dataset folder: which caption file (and so which format), which split
// lists, and where the images are. Errors list everything that was looked for.
import { existsSync, promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import { CapgenError } from '../errors.js';
import { FLICKR8K_SPLIT_FILES, FLICKR8K_TOKEN_FILE } from './readers/flickr8k.js';
import { FLICKR30K_CAPTIONS_FILE } from './readers/flickr30k.js';
import { KAGGLE_CAPTIONS_FILE } from './readers/kaggle.js';
import { KARPATHY_FILE_PATTERN } from './readers/karpathy.js';
import type { DatasetFormat } from './readers/types.js';
import type { SplitName } from '../run/formats.js';

export interface DatasetLayout {
  format: DatasetFormat;
  captionFile: string;
  imagesDir: string;
  /** Official split lists found beside the caption file. */
  splitFiles: Partial<Record<SplitName, string>>;
}

/** Where images live in the common downloads, in the order they are tried. */
export const IMAGE_DIR_CANDIDATES = ['Images', 'Flicker8k_Dataset', 'flickr30k_images/flickr30k_images', 'flickr30k_images'];

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The caption files each format is known by, in detection order (most specific first). */
async function findCaptionFile(dataDir: string, format: DatasetFormat): Promise<string | undefined> {
  const first = (names: string[]): string | undefined => names.map((n) => path.join(dataDir, n)).find((p) => existsSync(p));
  switch (format) {
    case 'flickr8k':
      return first([FLICKR8K_TOKEN_FILE]);
    case 'kaggle':
      return first([KAGGLE_CAPTIONS_FILE]);
    case 'flickr30k':
      return first([FLICKR30K_CAPTIONS_FILE, path.join('flickr30k_images', FLICKR30K_CAPTIONS_FILE)]);
    case 'karpathy': {
      const names = (await fs.readdir(dataDir)).filter((n) => KARPATHY_FILE_PATTERN.test(n)).sort();
      return names.length ? path.join(dataDir, names[0]!) : undefined;
    }
  }
}

const DETECTION_ORDER: DatasetFormat[] = ['flickr8k', 'kaggle', 'flickr30k', 'karpathy'];
const LOOKED_FOR: Record<DatasetFormat, string> = {
  flickr8k: `${FLICKR8K_TOKEN_FILE} (flickr8k)`,
  kaggle: `${KAGGLE_CAPTIONS_FILE} (kaggle)`,
  flickr30k: `${FLICKR30K_CAPTIONS_FILE} or flickr30k_images/${FLICKR30K_CAPTIONS_FILE} (flickr30k)`,
  karpathy: 'dataset_*.json (karpathy)',
};

export async function detectLayout(opts: { dataDir: string; format?: DatasetFormat; imagesDir?: string }): Promise<DatasetLayout> {
  const { dataDir } = opts;
  if (!isDir(dataDir)) {
    throw new CapgenError('NOT_FOUND', 'dataset folder not found', {
      file: dataDir,
      hint: 'pass --data DIR with the captions and images, or --dataset synthetic to generate one',
    });
  }
  let format: DatasetFormat | undefined;
  let captionFile: string | undefined;
  const tried = opts.format ? [opts.format] : DETECTION_ORDER;
  for (const f of tried) {
    captionFile = await findCaptionFile(dataDir, f);
    if (captionFile) {
      format = f;
      break;
    }
  }
  if (!format || !captionFile) {
    throw new CapgenError(
      opts.format ? 'NOT_FOUND' : 'BAD_INPUT',
      opts.format ? `no caption file for --format ${opts.format}` : 'unknown dataset layout: no caption file',
      {
        file: dataDir,
        hint: `looked for ${tried.map((f) => LOOKED_FOR[f]).join(', ')}`,
      },
    );
  }
  const imagesDir = findImagesDir(dataDir, format, opts.imagesDir);
  const splitFiles: DatasetLayout['splitFiles'] = {};
  for (const [split, name] of Object.entries(FLICKR8K_SPLIT_FILES) as [SplitName, string][]) {
    const p = path.join(dataDir, name);
    if (existsSync(p)) splitFiles[split] = p;
  }
  return { format, captionFile, imagesDir, splitFiles };
}

function findImagesDir(dataDir: string, format: DatasetFormat, given?: string): string {
  if (given) {
    if (!isDir(given)) throw new CapgenError('NOT_FOUND', 'images folder not found', { file: given, hint: 'check --images DIR' });
    return given;
  }
  const found = IMAGE_DIR_CANDIDATES.map((d) => path.join(dataDir, d)).find(isDir);
  if (found) return found;
  // COCO's Karpathy file names images by `filepath/filename` relative to the dataset folder.
  if (format === 'karpathy') return dataDir;
  throw new CapgenError('NOT_FOUND', 'no images folder', {
    file: dataDir,
    hint: `looked for ${IMAGE_DIR_CANDIDATES.map((d) => `${d}/`).join(', ')}; pass --images DIR`,
  });
}
