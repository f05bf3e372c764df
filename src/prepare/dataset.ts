// Reads a dataset folder into cleaned captions with their split, leaving out (and listing) what
// cannot be used: malformed lines, duplicates, empty captions, missing images, unlisted images.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { SplitName } from '../run/formats.js';
import type { CleaningRules } from '../text/clean.js';
import { cleanCaptions, type CleanCaption } from './captions.js';
import { detectLayout, type DatasetLayout } from './dataset-layout.js';
import { parseFlickr8kTokens, parseSplitList } from './readers/flickr8k.js';
import { parseFlickr30kCaptions } from './readers/flickr30k.js';
import { parseKaggleCaptions } from './readers/kaggle.js';
import { parseKarpathyJson } from './readers/karpathy.js';
import { checkMalformedShare, type DatasetFormat, type LineIssue, type ParsedCaptions } from './readers/types.js';
import { assignSplits, type SplitAssignment } from './splits.js';
import { readTextFile } from './text-file.js';

export const PARSERS: Record<DatasetFormat, (text: string, file: string) => ParsedCaptions> = {
  flickr8k: parseFlickr8kTokens,
  kaggle: parseKaggleCaptions,
  flickr30k: parseFlickr30kCaptions,
  karpathy: parseKarpathyJson,
};

export interface LoadedDataset {
  layout: DatasetLayout;
  /** Kept captions, each with its split, in file order. */
  captions: (CleanCaption & { split: SplitName })[];
  records: number;
  malformed: LineIssue[];
  duplicates: LineIssue[];
  empty: LineIssue[];
  /** Images named by captions but absent from the images folder. */
  missingImages: string[];
  splits: Omit<SplitAssignment, 'byImage'>;
}

export interface LoadOptions {
  dataDir: string;
  format?: DatasetFormat;
  imagesDir?: string;
  rules: CleaningRules;
  splitRatios: [number, number, number];
  forceRandomSplit: boolean;
  seed: number;
}

/** Names of the files in imagesDir; names with a folder part (COCO) are checked one by one. */
async function findPresent(imagesDir: string, images: string[]): Promise<Set<string>> {
  const listed = new Set(await fs.readdir(imagesDir));
  return new Set(images.filter((name) => (name.includes('/') ? existsSync(path.join(imagesDir, name)) : listed.has(name))));
}

export async function loadDataset(opts: LoadOptions): Promise<LoadedDataset> {
  const layout = await detectLayout(opts);
  const parsed = PARSERS[layout.format](await readTextFile(layout.captionFile), layout.captionFile);
  checkMalformedShare(parsed, layout.format);
  const cleaned = cleanCaptions(parsed.captions, { file: layout.captionFile, rules: opts.rules });

  const named = [...new Set(cleaned.captions.map((c) => c.image))];
  const present = await findPresent(layout.imagesDir, named);
  const missingImages = named.filter((n) => !present.has(n));

  const lists: Partial<Record<SplitName, string[]>> = {};
  for (const [split, file] of Object.entries(layout.splitFiles) as [SplitName, string][]) {
    lists[split] = parseSplitList(await readTextFile(file));
  }
  const carried = new Map<string, SplitName>();
  for (const c of cleaned.captions) if (c.split && !carried.has(c.image)) carried.set(c.image, c.split);
  const { byImage, ...splits } = assignSplits({
    images: named.filter((n) => present.has(n)),
    lists,
    carried,
    forceRandom: opts.forceRandomSplit,
    ratios: opts.splitRatios,
    seed: opts.seed,
  });

  const captions: LoadedDataset['captions'] = [];
  for (const c of cleaned.captions) {
    const split = byImage.get(c.image);
    if (split) captions.push({ ...c, split });
  }
  return {
    layout,
    captions,
    records: parsed.records,
    malformed: parsed.malformed,
    duplicates: cleaned.duplicates,
    empty: cleaned.empty,
    missingImages,
    splits,
  };
}
