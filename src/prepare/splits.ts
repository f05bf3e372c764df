// Which split each image belongs to: the official lists when the dataset has them, else the
// split carried by the caption files (Karpathy's, COCO's train/val), else a seeded random split (same seed, same split).
import { CapgenError } from '../errors.js';
import type { SplitName } from '../run/formats.js';
import { mulberry32 } from '../util/random.js';

export const SPLIT_NAMES: readonly SplitName[] = ['train', 'dev', 'test'];

/** `official` lists, a `random` split, or the name of the format whose files carried the split. */
export type SplitSource = 'official' | 'random' | (string & {});

export interface SplitAssignment {
  source: SplitSource;
  byImage: Map<string, SplitName>;
  /** Images with captions but in no official list: left out. */
  unlisted: string[];
  /** Images listed in more than one official list (kept in the first: train, dev, test). */
  inSeveralLists: string[];
  notes: string[];
}

/** '0.8,0.1,0.1' -> [0.8, 0.1, 0.1]; must be three non-negative shares summing to 1. */
export function parseSplitRatios(text: string): [number, number, number] {
  const parts = text.split(',').map((s) => Number(s.trim()));
  const sum = parts.reduce((a, b) => a + b, 0);
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x) || x < 0) || Math.abs(sum - 1) > 1e-6) {
    throw new CapgenError('USAGE', `--split expects three shares train,dev,test that sum to 1, got '${text}'`, {
      hint: 'e.g. --split 0.8,0.1,0.1',
    });
  }
  return parts as [number, number, number];
}

/** Sorts the names first, so the split depends only on the set of images and the seed. */
export function randomSplit(images: Iterable<string>, ratios: [number, number, number], seed: number): Map<string, SplitName> {
  const names = [...new Set(images)].sort();
  const random = mulberry32(seed);
  for (let i = names.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [names[i], names[j]] = [names[j]!, names[i]!];
  }
  const trainCount = Math.round(ratios[0] * names.length);
  const devCount = Math.min(names.length - trainCount, Math.round(ratios[1] * names.length));
  const out = new Map<string, SplitName>();
  names.forEach((name, i) => out.set(name, i < trainCount ? 'train' : i < trainCount + devCount ? 'dev' : 'test'));
  return out;
}

export interface SplitInputs {
  /** Images that have captions and exist on disk. */
  images: string[];
  /** Official lists that were found (a missing list is undefined). */
  lists?: Partial<Record<SplitName, string[]>>;
  /** The split each image carries in the captions file (Karpathy, COCO). */
  carried?: Map<string, SplitName>;
  /** The format that carried it: the split's name in summaries (default 'karpathy'). */
  carriedBy?: string;
  /** Forces a random split even when lists exist (the user gave --split). */
  forceRandom?: boolean;
  ratios: [number, number, number];
  seed: number;
}

export function assignSplits(inputs: SplitInputs): SplitAssignment {
  const { images, lists } = inputs;
  const hasLists = !!lists && SPLIT_NAMES.some((s) => lists[s] !== undefined);
  if (hasLists && !inputs.forceRandom) {
    const byImage = new Map<string, SplitName>();
    const listed = new Map<string, SplitName>();
    const inSeveralLists: string[] = [];
    for (const split of SPLIT_NAMES) {
      for (const name of lists[split] ?? []) {
        if (listed.has(name)) inSeveralLists.push(name);
        else listed.set(name, split);
      }
    }
    const unlisted: string[] = [];
    for (const image of images) {
      const split = listed.get(image);
      if (split) byImage.set(image, split);
      else unlisted.push(image);
    }
    const notes = SPLIT_NAMES.filter((s) => lists[s] === undefined).map((s) => `no ${s} split list: the ${s} split is empty`);
    return { source: 'official', byImage, unlisted, inSeveralLists, notes };
  }
  if (inputs.carried && inputs.carried.size > 0 && !inputs.forceRandom) {
    const byImage = new Map<string, SplitName>();
    for (const image of images) byImage.set(image, inputs.carried.get(image) ?? 'train');
    return { source: inputs.carriedBy ?? 'karpathy', byImage, unlisted: [], inSeveralLists: [], notes: [] };
  }
  const byImage = randomSplit(images, inputs.ratios, inputs.seed);
  const pct = inputs.ratios.map((r) => `${Math.round(r * 100)}%`).join('/');
  return {
    source: 'random',
    byImage,
    unlisted: [],
    inSeveralLists: [],
    notes: [`random split ${pct} (train/dev/test) with seed ${inputs.seed}`],
  };
}
