// Reads a dataset folder into cleaned captions with their split, leaving out (and listing) what
// cannot be used: malformed lines, duplicates, empty captions, missing images, unlisted images.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileImageSource, type ImageSource } from '../features/image-source.js';
import type { SplitName } from '../run/formats.js';
import type { CleaningRules } from '../text/clean.js';
import type { ShardSpec } from '../util/shard.js';
import { cleanCaptions, type CleanCaption, type CleanedCaptions } from './captions.js';
import { detectLayout, type DatasetLayout } from './dataset-layout.js';
import { DATASET_FORMATS } from './formats.js';
import { parseSplitList } from './readers/flickr8k.js';
import { checkMalformedShare, type DatasetFormat, type LineIssue, type ParsedCaptions } from './readers/types.js';
import { assignSplits, type SplitAssignment } from './splits.js';
import { readTextFile } from './text-file.js';

export interface LoadedDataset {
  layout: DatasetLayout;
  /** Where the images' bytes are read from (the images folder, or the tars). */
  images: ImageSource;
  /** The files the captions were read from (the tars, for webdataset). */
  captionFiles: string[];
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
  /**
   * Stream formats (webdataset) read only the input files (tars) this shard owns, by position
   * (shardOwnsPosition): for a `prepare --shard` that assigns features per input file. Absent: all.
   */
  inputShard?: ShardSpec;
}

/** Names of the files in imagesDir; names with a folder part (COCO) are checked one by one. */
async function findPresent(imagesDir: string, images: string[]): Promise<Set<string>> {
  const listed = new Set(await fs.readdir(imagesDir));
  return new Set(images.filter((name) => (name.includes('/') ? existsSync(path.join(imagesDir, name)) : listed.has(name))));
}

/** Every caption file parsed (the 1% rule per file) and cleaned; ids repeated across files count as duplicates. */
function parseAndClean(
  files: ParsedCaptions[],
  format: DatasetFormat,
  rules: CleaningRules,
): CleanedCaptions & { records: number; malformed: LineIssue[] } {
  const out: CleanedCaptions & { records: number; malformed: LineIssue[] } = {
    captions: [],
    duplicates: [],
    empty: [],
    records: 0,
    malformed: [],
  };
  const seen = new Set<string>();
  for (const parsed of files) {
    checkMalformedShare(parsed, format, DATASET_FORMATS);
    const cleaned = cleanCaptions(parsed.captions, { file: parsed.file, rules });
    for (const c of cleaned.captions) {
      if (seen.has(c.id))
        out.duplicates.push({
          file: parsed.file,
          line: c.line,
          message: `duplicate caption id ${c.id} (also in an earlier file); kept the first`,
        });
      else {
        seen.add(c.id);
        out.captions.push(c);
      }
    }
    out.duplicates.push(...cleaned.duplicates);
    out.empty.push(...cleaned.empty);
    out.records += parsed.records;
    out.malformed.push(...parsed.malformed);
  }
  return out;
}

export async function loadDataset(opts: LoadOptions): Promise<LoadedDataset> {
  const layout = await detectLayout(opts);
  let parsedFiles: ParsedCaptions[];
  let images: ImageSource;
  let captionFiles: string[];
  const lists: Partial<Record<SplitName, string[]>> = {};
  if (layout.kind === 'stream') {
    const opened = await layout.reader.open(layout.captionFile, { shard: opts.inputShard });
    parsedFiles = opened.parsed;
    captionFiles = opened.inputs;
    images = opened.images;
  } else {
    parsedFiles = [];
    captionFiles = layout.captionFiles;
    for (const file of layout.captionFiles) parsedFiles.push(layout.reader.parse(await readTextFile(file), file));
    const { imagesDir } = layout;
    images = fileImageSource(imagesDir, (name) => path.join(imagesDir, name));
    for (const [split, file] of Object.entries(layout.splitFiles) as [SplitName, string][]) {
      lists[split] = parseSplitList(await readTextFile(file));
    }
  }
  const cleaned = parseAndClean(parsedFiles, layout.format, opts.rules);

  const named = [...new Set(cleaned.captions.map((c) => c.image))];
  // A stream format names only the images its samples hold.
  const present = layout.kind === 'stream' ? new Set(named) : await findPresent(layout.imagesDir, named);
  const missingImages = named.filter((n) => !present.has(n));

  const carried = new Map<string, SplitName>();
  for (const c of cleaned.captions) if (c.split && !carried.has(c.image)) carried.set(c.image, c.split);
  const { byImage, ...splits } = assignSplits({
    images: named.filter((n) => present.has(n)),
    lists,
    carried,
    carriedBy: layout.format,
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
    images,
    captionFiles,
    captions,
    records: cleaned.records,
    malformed: cleaned.malformed,
    duplicates: cleaned.duplicates,
    empty: cleaned.empty,
    missingImages,
    splits,
  };
}
