// Reading whole dataset folders: layout detection, missing images, split lists, errors.
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CapgenError } from '../../src/errors.js';
import { detectLayout } from '../../src/prepare/dataset-layout.js';
import { loadDataset } from '../../src/prepare/dataset.js';
import { DEFAULT_CLEANING } from '../../src/text/clean.js';
import { tempDir } from '../helpers.js';
import { kaggleText, tinyImages, writeFlickr8kDataset, writeImages } from './fixtures.js';

const root = tempDir('capgen-prepare-ds-');
const images = tinyImages(12);
const base = { rules: DEFAULT_CLEANING, splitRatios: [0.5, 0.25, 0.25] as [number, number, number], forceRandomSplit: false, seed: 1 };

async function errorOf(p: Promise<unknown>): Promise<CapgenError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CapgenError) return e;
    throw e;
  }
  throw new Error('expected a CapgenError');
}

describe('loadDataset', () => {
  it('flickr8k with train+dev lists: missing images and unlisted images are left out, test is empty', async () => {
    const dir = path.join(root, 'f8k');
    const names = images.map((i) => i.name);
    writeFlickr8kDataset(dir, images, { train: names.slice(0, 8), dev: names.slice(8, 10) });
    rmSync(path.join(dir, 'Images', names[1]!));
    const d = await loadDataset({ ...base, dataDir: dir });
    expect(d.layout.format).toBe('flickr8k');
    expect(d.missingImages).toEqual([names[1]]);
    expect(d.splits.source).toBe('official');
    expect(d.splits.unlisted).toEqual(names.slice(10));
    expect(d.splits.notes).toEqual(['no test split list: the test split is empty']);
    const imagesBySplit = (s: string) => [...new Set(d.captions.filter((c) => c.split === s).map((c) => c.image))];
    expect(imagesBySplit('train')).toEqual(names.slice(0, 8).filter((n) => n !== names[1]));
    expect(imagesBySplit('dev')).toEqual(names.slice(8, 10));
    expect(imagesBySplit('test')).toEqual([]);
    expect(d.captions).toHaveLength(9 * 3);
  });

  it('kaggle captions.txt (BOM, CRLF) without lists: seeded random split over present images', async () => {
    const dir = path.join(root, 'kaggle');
    writeImages(dir, images);
    writeFileSync(path.join(dir, 'captions.txt'), `\ufeff${kaggleText(images).replace(/\n/g, '\r\n')}`);
    const d = await loadDataset({ ...base, dataDir: dir });
    expect(d.layout.format).toBe('kaggle');
    expect(d.splits.source).toBe('random');
    expect(d.captions).toHaveLength(36);
    expect(d.captions[0]!.raw).toBe(images[0]!.captions[0]);
    const again = await loadDataset({ ...base, dataDir: dir });
    expect(again.captions.map((c) => c.split)).toEqual(d.captions.map((c) => c.split));
    const perSplit = (s: string) => new Set(d.captions.filter((c) => c.split === s).map((c) => c.image)).size;
    expect([perSplit('train'), perSplit('dev'), perSplit('test')]).toEqual([6, 3, 3]);
  });

  it('prefers Flickr8k.token.txt over captions.txt unless --format says otherwise; --images overrides the folder', async () => {
    const dir = path.join(root, 'both');
    writeFlickr8kDataset(dir, images);
    writeFileSync(path.join(dir, 'captions.txt'), kaggleText(images.slice(0, 2)));
    expect((await detectLayout({ dataDir: dir })).format).toBe('flickr8k');
    expect((await detectLayout({ dataDir: dir, format: 'kaggle' })).captionFile).toBe(path.join(dir, 'captions.txt'));
    const elsewhere = path.join(root, 'elsewhere');
    mkdirSync(elsewhere);
    expect((await detectLayout({ dataDir: dir, imagesDir: elsewhere })).imagesDir).toBe(elsewhere);
  });

  it('finds images under Flicker8k_Dataset/ (the original download)', async () => {
    const dir = path.join(root, 'orig');
    writeFlickr8kDataset(dir, images);
    mkdirSync(path.join(dir, 'x'));
    renameSync(path.join(dir, 'Images'), path.join(dir, 'Flicker8k_Dataset'));
    expect((await detectLayout({ dataDir: dir })).imagesDir).toBe(path.join(dir, 'Flicker8k_Dataset'));
    symlinkSync(path.join(dir, 'Flicker8k_Dataset'), path.join(dir, 'Images'));
    expect((await detectLayout({ dataDir: dir })).imagesDir).toBe(path.join(dir, 'Images'));
  });

  it('flickr30k in the Kaggle layout (flickr30k_images/results.csv + flickr30k_images/flickr30k_images/)', async () => {
    const dir = path.join(root, 'f30k');
    const inner = path.join(dir, 'flickr30k_images', 'flickr30k_images');
    mkdirSync(inner, { recursive: true });
    for (const img of images) writeFileSync(path.join(inner, img.name), 'x');
    const lines = images.flatMap((img) => img.captions.map((c, j) => `${img.name}| ${j}| ${c}`));
    writeFileSync(path.join(dir, 'flickr30k_images', 'results.csv'), `image_name| comment_number| comment\n${lines.join('\n')}\n`);
    const d = await loadDataset({ ...base, dataDir: dir });
    expect(d.layout.format).toBe('flickr30k');
    expect(d.layout.imagesDir).toBe(inner);
    expect(d.captions.map((c) => c.raw)).toEqual(images.flatMap((i) => i.captions.map((c) => c.trim())));
    expect(d.missingImages).toEqual([]);
  });

  it('karpathy json: its own split is used when there are no official lists', async () => {
    const dir = path.join(root, 'karpathy');
    writeImages(dir, images);
    const splitOf = (k: number) => (k < 8 ? 'train' : k < 10 ? 'val' : 'test');
    const doc = {
      images: images.map((img, k) => ({ filename: img.name, split: splitOf(k), sentences: img.captions.map((raw) => ({ raw })) })),
    };
    writeFileSync(path.join(dir, 'dataset_flickr8k.json'), JSON.stringify(doc));
    const d = await loadDataset({ ...base, dataDir: dir });
    expect(d.layout.format).toBe('karpathy');
    expect(d.splits.source).toBe('karpathy');
    const splitByImage = Object.fromEntries(d.captions.map((c) => [c.image, c.split]));
    expect(splitByImage).toEqual(
      Object.fromEntries(images.map((img, k) => [img.name, { train: 'train', val: 'dev', test: 'test' }[splitOf(k)]])),
    );
  });

  it('errors name what was looked for: missing folder, unknown layout, no images folder, format not there', async () => {
    const missing = await errorOf(detectLayout({ dataDir: path.join(root, 'nope') }));
    expect([missing.code, missing.file]).toEqual(['NOT_FOUND', path.join(root, 'nope')]);

    const junk = path.join(root, 'junk');
    mkdirSync(junk);
    writeFileSync(path.join(junk, 'readme.md'), 'hi');
    const unknown = await errorOf(detectLayout({ dataDir: junk }));
    expect(unknown.oneLine()).toMatch(/unknown dataset layout.*Flickr8k\.token\.txt.*captions\.txt.*results\.csv.*dataset_\*\.json/);

    writeFileSync(path.join(junk, 'captions.txt'), kaggleText(images));
    const noImages = await errorOf(detectLayout({ dataDir: junk }));
    expect(noImages.oneLine()).toMatch(/no images folder.*Images\/, Flicker8k_Dataset\/, .*flickr30k_images\/.*--images/);

    const wrongFormat = await errorOf(detectLayout({ dataDir: junk, format: 'flickr30k' }));
    expect(wrongFormat.oneLine()).toMatch(
      /no caption file for --format flickr30k \(looked for results\.csv or flickr30k_images\/results\.csv \(flickr30k\)\)$/,
    );
  });

  it('a non-UTF-8 caption file is an error naming it', async () => {
    const dir = path.join(root, 'latin1');
    writeImages(dir, images);
    writeFileSync(path.join(dir, 'Flickr8k.token.txt'), Buffer.from('img_000.jpg#0\tcaf\xe9 au lait\n', 'latin1'));
    const e = await errorOf(loadDataset({ ...base, dataDir: dir }));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.oneLine()).toContain(`${path.join(dir, 'Flickr8k.token.txt')}: not valid UTF-8`);
  });
});
