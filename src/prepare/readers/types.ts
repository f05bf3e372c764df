// What every dataset format is: a descriptor (name, help line, what it is recognised by, parser),
// and what its parser returns: captions as written, with where they came from, and the records it had
// to skip. Each format is one file in this folder exporting `datasetFormat`; src/prepare/formats.ts
// finds them, and detection, `--format`, `prepare --help` and README's list all come from there.
import { CapgenError } from '../../errors.js';
import type { ImageSource } from '../../features/image-source.js';
import type { SplitName } from '../../run/formats.js';
import type { ShardSpec } from '../../util/shard.js';

/** A format's name as `--format` takes it (the descriptors are the list of valid ones). */
export type DatasetFormat = string;

export interface RawCaption {
  /** Image path relative to the images folder (webdataset: `<tar name>/<key>.<ext>`). */
  image: string;
  /** Caption text as written in the file. */
  raw: string;
  /** Unique caption id: `image#N` from the file, or `image#<index in file>` when it has none. */
  id: string;
  /** 1-based line in the caption file (JSON: the entry's index, 1-based; a tar: the sample's index, 1-based). */
  line: number;
  /** Set by formats whose files carry their own split (Karpathy, COCO). */
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

interface FormatBase {
  /** The `--format` name. */
  name: DatasetFormat;
  /** One line for `prepare --help` and README: the files and what is in them. */
  help: string;
  /** Detection order (lower first): formats known by more specific names are tried first. */
  rank: number;
}

/** A dataset folder with caption files and an images folder. */
export interface FolderFormat extends FormatBase {
  kind: 'folder';
  /**
   * The caption files it is recognised by, relative to the dataset folder, in preference order. Each
   * entry is a set of files read together as one dataset (COCO ships train and val apart); a set
   * matches when any of its files exists, and the first matching set is read. A `*` in a name stands
   * for its first match in name order.
   */
  captionFiles: string[][];
  /** Where its images are looked for, relative to the dataset folder, in order ('.' = the folder itself). */
  imageDirs: string[];
  /** Official split lists beside the caption files (one image name a line), used when present. */
  splitLists?: Partial<Record<SplitName, string>>;
  /** One caption file's text -> captions (pure). */
  parse(text: string, file: string): ParsedCaptions;
}

/** Input read as streams (webdataset tars): `--data` names the inputs, not a folder. */
export interface StreamFormat extends FormatBase {
  kind: 'stream';
  /** What `--data` must look like, for error messages. */
  recognises: string;
  /** Whether `--data` names input of this format (checked after every folder format). */
  detect(data: string): Promise<boolean>;
  open(data: string, opts: { shard?: ShardSpec }): Promise<StreamDataset>;
}

export interface StreamDataset {
  /** The input files, in reading order (a shard's own only). */
  inputs: string[];
  /** One per input file. */
  parsed: ParsedCaptions[];
  /** Bytes of the images the captions name; every image named by `parsed` is in it. */
  images: ImageSource;
}

export type DatasetReader = FolderFormat | StreamFormat;

/** Where images are in the common downloads: the folder formats of the Flickr family look in all of them. */
export const COMMON_IMAGE_DIRS = ['Images', 'Flicker8k_Dataset', 'flickr30k_images/flickr30k_images', 'flickr30k_images'];

/** Above this share of malformed records the file is probably not the format we think. */
export const MAX_MALFORMED_SHARE = 0.01;

/** Throws BAD_INPUT when more than 1% of the records were malformed. */
export function checkMalformedShare(parsed: ParsedCaptions, format: DatasetFormat, formats?: readonly string[]): void {
  const bad = parsed.malformed.length;
  if (bad === 0 || bad <= MAX_MALFORMED_SHARE * parsed.records) return;
  const first = parsed.malformed[0]!;
  const share = ((100 * bad) / Math.max(1, parsed.records)).toFixed(1);
  throw new CapgenError(
    'BAD_INPUT',
    `${bad} of ${parsed.records} records (${share}%) are malformed for the ${format} format, more than ${MAX_MALFORMED_SHARE * 100}%; first at line ${first.line}: ${first.message}`,
    {
      file: parsed.file,
      hint: `check the file, or pick the format with --format ${formats ? formats.join('|') : 'NAME'}`,
    },
  );
}
