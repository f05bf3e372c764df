// Writes the synthetic dataset as an ordinary Flickr8k folder: Images/*.png, Flickr8k.token.txt and
// the three split lists, so `capgen prepare` reads it through the same reader as the real data.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { CapgenError } from '../errors.js';
import { replaceDirAtomic } from '../io/atomic.js';
import { writeFileNamed } from '../io/disk-errors.js';
import { syntheticItems, type SyntheticItem } from './dataset.js';
import { sceneToSvg } from './svg.js';

export interface SyntheticOptions {
  outDir: string;
  count: number;
  seed: number;
}

/** Marks a folder as ours: only such a folder (or an empty one) is ever replaced. */
export const SYNTHETIC_MARKER = 'synthetic.json';
// sharp renders in libuv threads; a few in flight keep both cores busy without piling up buffers.
const RENDER_CONCURRENCY = 8;
// Far more than any demo needs, small enough that a typo (an extra zero or two) fails at once.
export const MAX_SYNTHETIC_COUNT = 100_000;

export function tokenFileText(items: SyntheticItem[]): string {
  return items.flatMap((item) => item.captions.map((c, i) => `${item.image}#${i}\t${c}\n`)).join('');
}

export function splitListText(items: SyntheticItem[], split: SyntheticItem['split']): string {
  return items
    .filter((item) => item.split === split)
    .map((item) => `${item.image}\n`)
    .join('');
}

async function assertReplaceable(outDir: string): Promise<void> {
  if (!existsSync(outDir)) return;
  const stat = await fs.stat(outDir);
  const entries = stat.isDirectory() ? await fs.readdir(outDir) : ['(a file)'];
  if (entries.length > 0 && !entries.includes(SYNTHETIC_MARKER)) {
    throw new CapgenError('USAGE', `${outDir} exists and was not written by the synthetic generator; refusing to replace it`, {
      file: outDir,
      hint: 'choose an empty or new folder for the synthetic dataset',
    });
  }
}

async function renderAll(items: SyntheticItem[], imagesDir: string): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const item = items[next++] as SyntheticItem;
      const png = await sharp(Buffer.from(sceneToSvg(item.scene)))
        .png({ compressionLevel: 6 })
        .toBuffer();
      await writeFileNamed(path.join(imagesDir, item.image), png);
    }
  };
  // Every worker stops before the first error is passed on: the caller removes the folder they write
  // into, and a worker still writing there would make that fail (ENOTEMPTY) and leave it behind.
  const outcomes = await Promise.allSettled(
    Array.from({ length: RENDER_CONCURRENCY }, () =>
      worker().catch((e: unknown) => {
        failed = true;
        throw e;
      }),
    ),
  );
  const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (rejected) throw rejected.reason;
}

/**
 * Generates `count` scenes from `seed` into `outDir` (replaced whole, atomically: an interrupted
 * run leaves the previous folder or none, never a half-written one).
 */
export async function generateSyntheticDataset(opts: SyntheticOptions): Promise<void> {
  if (!Number.isInteger(opts.count) || opts.count < 3 || opts.count > MAX_SYNTHETIC_COUNT) {
    throw new CapgenError('USAGE', `--count must be a whole number from 3 to ${MAX_SYNTHETIC_COUNT}, got ${opts.count}`, {
      hint: 'the train, dev and test splits need at least one image each',
    });
  }
  if (!Number.isInteger(opts.seed) || opts.seed < 0) {
    throw new CapgenError('USAGE', `--seed must be a whole number >= 0, got ${opts.seed}`);
  }
  await assertReplaceable(opts.outDir);
  const items = syntheticItems(opts.count, opts.seed);
  let tempDir: string | undefined;
  try {
    await replaceDirAtomic(opts.outDir, (dir) => {
      tempDir = dir;
      return writeDataset(dir, items, opts);
    });
  } catch (e) {
    // Name the file as it would have been published: the temp folder is gone by now.
    const err = e as NodeJS.ErrnoException;
    if (tempDir && typeof err?.path === 'string' && err.path.startsWith(tempDir)) err.path = opts.outDir + err.path.slice(tempDir.length);
    throw e;
  }
}

/** The dataset's files, written into `dir` (the temp folder that replaceDirAtomic then publishes). */
async function writeDataset(dir: string, items: SyntheticItem[], opts: SyntheticOptions): Promise<void> {
  const imagesDir = path.join(dir, 'Images');
  await fs.mkdir(imagesDir);
  await renderAll(items, imagesDir);
  await writeFileNamed(path.join(dir, 'Flickr8k.token.txt'), tokenFileText(items));
  await writeFileNamed(path.join(dir, 'Flickr_8k.trainImages.txt'), splitListText(items, 'train'));
  await writeFileNamed(path.join(dir, 'Flickr_8k.devImages.txt'), splitListText(items, 'dev'));
  await writeFileNamed(path.join(dir, 'Flickr_8k.testImages.txt'), splitListText(items, 'test'));
  const splits = { train: 0, dev: 0, test: 0 };
  for (const item of items) splits[item.split]++;
  await writeFileNamed(
    path.join(dir, SYNTHETIC_MARKER),
    `${JSON.stringify({ generator: 'capgen synthetic shapes v1', count: opts.count, seed: opts.seed, splits }, null, 2)}\n`,
  );
}
