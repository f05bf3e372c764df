// COCO's own caption files (captions_train2017.json + captions_val2017.json) read as one dataset:
// found without --format, train -> train, val halved into dev/test by a hash of the file name, images
// in train2017/ and val2017/, malformed annotations counted; and the built CLI prepares it end to end.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { CapgenError } from '../../src/errors.js';
import { detectLayout } from '../../src/prepare/dataset-layout.js';
import { loadDataset } from '../../src/prepare/dataset.js';
import { parseCocoCaptions } from '../../src/prepare/readers/coco.js';
import type { PrepareRecord, PreparedCaption } from '../../src/run/formats.js';
import { DEFAULT_CLEANING } from '../../src/text/clean.js';
import { runCli, tempDir } from '../helpers.js';
import { tinyImages, type TinyImage } from './fixtures.js';

const root = tempDir('capgen-coco-');
const base = { rules: DEFAULT_CLEANING, splitRatios: [0.8, 0.1, 0.1] as [number, number, number], forceRandomSplit: false, seed: 1 };

/** A COCO caption file: images get ids 1000+k; annotations in image order, ids 1..n. */
function cocoDoc(images: TinyImage[]): { images: object[]; annotations: object[] } {
  let id = 0;
  return {
    images: images.map((img, k) => ({ id: 1000 + k, file_name: img.name, width: 16, height: 12 })),
    annotations: images.flatMap((img, k) => img.captions.map((caption) => ({ id: ++id, image_id: 1000 + k, caption }))),
  };
}

/** train2017/ and val2017/ with tiny JPEGs, the two caption files under annotations/ (as COCO's zips unpack). */
async function writeCoco(dir: string, train: TinyImage[], val: TinyImage[], year = '2017'): Promise<void> {
  for (const [part, images] of [
    ['train', train],
    ['val', val],
  ] as const) {
    mkdirSync(path.join(dir, `${part}${year}`), { recursive: true });
    for (const [k, img] of images.entries()) {
      const jpeg = await sharp({ create: { width: 16, height: 12, channels: 3, background: { r: 20 * k, g: 90, b: 200 - 10 * k } } })
        .jpeg()
        .toBuffer();
      writeFileSync(path.join(dir, `${part}${year}`, img.name), jpeg);
    }
    mkdirSync(path.join(dir, 'annotations'), { recursive: true });
    writeFileSync(path.join(dir, 'annotations', `captions_${part}${year}.json`), JSON.stringify(cocoDoc(images)));
  }
}

const all = tinyImages(30, 2).map((img, k) => ({ ...img, name: `${String(k).padStart(12, '0')}.jpg` }));
const train = all.slice(0, 20);
const val = all.slice(20);
/** The documented rule, written out here: SHA-256 of the file name, first byte even -> dev. */
const halfOf = (name: string) => (createHash('sha256').update(name).digest()[0]! % 2 === 0 ? 'dev' : 'test');

describe('coco format', () => {
  it('reads train and val as one dataset: train -> train, val halved into dev and test, images under their folders', async () => {
    const dir = path.join(root, 'coco');
    await writeCoco(dir, train, val);
    const layout = await detectLayout({ dataDir: dir });
    expect(layout.format).toBe('coco');
    expect(layout.kind === 'folder' && layout.captionFiles.map((f) => path.relative(dir, f))).toEqual([
      path.join('annotations', 'captions_train2017.json'),
      path.join('annotations', 'captions_val2017.json'),
    ]);
    const d = await loadDataset({ ...base, dataDir: dir });
    expect(d.splits.source).toBe('coco');
    expect(d.missingImages).toEqual([]);
    const splitOf = new Map(d.captions.map((c) => [c.image, c.split]));
    const expected = new Map([
      ...train.map((img) => [`train2017/${img.name}`, 'train'] as const),
      ...val.map((img) => [`val2017/${img.name}`, halfOf(img.name)] as const),
    ]);
    expect(splitOf).toEqual(expected);
    expect(new Set(splitOf.values())).toEqual(new Set(['train', 'dev', 'test']));
    expect(d.captions.map((c) => c.raw)).toEqual(all.flatMap((img) => img.captions.map((c) => c.trim())));
    // --split asks for a random split over everything instead
    const random = await loadDataset({ ...base, dataDir: dir, forceRandomSplit: true });
    expect(random.splits.source).toBe('random');
  });

  it('2014 names (COCO_val2014_... in val2014/), missing images listed, malformed annotations counted', async () => {
    const dir = path.join(root, 'coco2014');
    const named = (prefix: string, imgs: TinyImage[]) => imgs.map((img) => ({ ...img, name: `COCO_${prefix}_${img.name}` }));
    await writeCoco(dir, named('train2014', train), named('val2014', val), '2014');
    rmSync(path.join(dir, 'val2014', `COCO_val2014_${val[0]!.name}`));
    const d = await loadDataset({ ...base, dataDir: dir });
    expect(d.layout.format).toBe('coco');
    expect(d.missingImages).toEqual([`val2014/COCO_val2014_${val[0]!.name}`]);
    expect(d.captions.filter((c) => c.split === 'train')).toHaveLength(train.length * 2);

    const file = path.join(dir, 'captions_val2014.json');
    const doc = cocoDoc(val);
    doc.annotations.push({ id: 99, image_id: 5, caption: 'no such image' }, { id: 100, image_id: 1000 });
    const parsed = parseCocoCaptions(JSON.stringify(doc), file);
    expect(parsed.records).toBe(val.length * 2 + 2);
    expect(parsed.malformed.map((m) => m.line)).toEqual([val.length * 2 + 1, val.length * 2 + 2]);
    expect(() => parseCocoCaptions('{"images": []}', file)).toThrow(CapgenError);
  });

  it('the built CLI prepares it (features of the images in train2017/ and val2017/)', async () => {
    const dir = path.join(root, 'coco-cli');
    await writeCoco(dir, train, val);
    const out = path.join(root, 'run');
    const r = await runCli(['prepare', '--data', dir, '--run', out, '--encoder', 'seeded-cnn', '--min-count', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/reading coco captions from .*captions_train2017\.json \+ .*captions_val2017\.json/);
    expect(JSON.parse(r.stdout)).toMatchObject({ format: 'coco', images: 30, splitSource: 'coco', features: { computed: 30 } });
    const rows = readFileSync(path.join(out, 'captions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as PreparedCaption);
    expect(rows.filter((c) => c.split === 'train')).toHaveLength(40);
    const record = JSON.parse(readFileSync(path.join(out, 'prepare.json'), 'utf8')) as PrepareRecord;
    expect((record.config as { captionFiles: string[] }).captionFiles).toHaveLength(2);
  });
});
