// The synthetic dataset: deterministic with its seed, five different true captions per image,
// images whose pixels show what the captions say, and a folder that prepare's Flickr8k reader takes.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { CapgenError } from '../../src/errors.js';
import { loadDataset } from '../../src/prepare/dataset.js';
import { syntheticItems, splitSizes } from '../../src/synthetic/dataset.js';
import { generateSyntheticDataset } from '../../src/synthetic/generate.js';
import { sceneToSvg } from '../../src/synthetic/svg.js';
import { BACKGROUNDS, SHAPE_COLOURS, SHAPE_KINDS } from '../../src/synthetic/scene.js';
import { cleanCaption, DEFAULT_CLEANING } from '../../src/text/clean.js';
import { tempDir } from '../helpers.js';

const PLURALS = SHAPE_KINDS.map((k) => `${k}s`);

describe('synthetic scenes and captions', () => {
  const items = syntheticItems(200, 11);

  it('repeats exactly with the same seed, and differs with another', () => {
    expect(syntheticItems(200, 11)).toEqual(items);
    const other = syntheticItems(200, 12);
    const same = other.filter((o, i) => JSON.stringify(o.scene) === JSON.stringify(items[i]!.scene)).length;
    expect(same).toBeLessThan(5);
  });

  it('keeps scene i the same whatever the count (only the split tail moves)', () => {
    const fewer = syntheticItems(50, 11);
    fewer.forEach((item, i) => expect(item.scene).toEqual(items[i]!.scene));
  });

  it('covers every count, kind, colour and background', () => {
    const counts = new Set(items.map((it) => it.scene.shapes.length));
    const kinds = new Set(items.flatMap((it) => it.scene.shapes.map((s) => s.kind)));
    const colours = new Set(items.flatMap((it) => it.scene.shapes.map((s) => s.colour)));
    const backgrounds = new Set(items.map((it) => it.scene.background));
    expect([...counts].sort()).toEqual([1, 2, 3]);
    expect(kinds.size).toBe(SHAPE_KINDS.length);
    expect(colours.size).toBe(SHAPE_COLOURS.length);
    expect(backgrounds.size).toBe(BACKGROUNDS.length);
  });

  it('gives five differently worded captions per image', () => {
    for (const item of items) {
      expect(item.captions).toHaveLength(5);
      const cleaned = item.captions.map((c) => cleanCaption(c, DEFAULT_CLEANING).join(' '));
      expect(new Set(cleaned).size).toBe(5);
    }
  });

  it('names exactly the colours present, every kind present, the count and the background', () => {
    for (const item of items) {
      const tokensPerCaption = item.captions.map((c) => cleanCaption(c, DEFAULT_CLEANING));
      const all = new Set(tokensPerCaption.flat());
      const present = new Set(item.scene.shapes.map((s) => s.colour));
      for (const colour of SHAPE_COLOURS) expect(all.has(colour), `${colour} in ${item.captions.join(' | ')}`).toBe(present.has(colour));
      for (const shape of item.scene.shapes) expect(all.has(shape.kind) || all.has(`${shape.kind}s`)).toBe(true);
      const kindsMentioned = [...SHAPE_KINDS, ...PLURALS].filter((w) => all.has(w)).map((w) => w.replace(/s$/, ''));
      expect(new Set(kindsMentioned)).toEqual(new Set(item.scene.shapes.map((s) => s.kind)));
      const count = item.scene.shapes.length;
      if (count > 1) expect(all.has(count === 2 ? 'two' : 'three')).toBe(true);
      expect(all.has(item.scene.background)).toBe(true);
      // The first caption names every shape, left to right, with its colour.
      const first = tokensPerCaption[0]!.join(' ');
      let from = 0;
      for (const s of item.scene.shapes) {
        const at = first.indexOf(`${s.colour} ${s.kind}`, from);
        expect(at, `${s.colour} ${s.kind} in order in "${first}"`).toBeGreaterThanOrEqual(from);
        from = at + 1;
      }
    }
  });

  it('says where a single shape is, from its pixel position', () => {
    for (const item of items.filter((it) => it.scene.shapes.length === 1)) {
      const s = item.scene.shapes[0]!;
      const third = s.cx < item.scene.widthPx / 3 ? 'left' : s.cx < (2 * item.scene.widthPx) / 3 ? 'center' : 'right';
      expect(cleanCaption(item.captions[0]!, DEFAULT_CLEANING)).toContain(third);
    }
  });

  it('splits 80/10/10 by position', () => {
    expect(splitSizes(300)).toEqual({ train: 240, dev: 30, test: 30 });
    expect(splitSizes(3)).toEqual({ train: 1, dev: 1, test: 1 });
    const counts = { train: 0, dev: 0, test: 0 };
    for (const it of items) counts[it.split]++;
    expect(counts).toEqual(splitSizes(200));
  });
});

/** Loose colour classes, independent of the renderer's exact hex values. */
function colourOf([r, g, b]: number[]): string {
  if (r! > 180 && g! > 180 && b! < 90) return 'yellow';
  if (r! > 170 && g! < 80 && b! < 80) return 'red';
  if (g! > 120 && r! < 90 && b! < 90) return 'green';
  if (b! > 160 && r! < 80) return 'blue';
  if (r! > 100 && b! > 130 && g! < 90) return 'purple';
  return `unknown rgb(${r},${g},${b})`;
}

describe('rendering', () => {
  it('paints each shape in its colour at its centre', async () => {
    const items = syntheticItems(40, 5);
    for (const item of items.slice(0, 20)) {
      const { data, info } = await sharp(Buffer.from(sceneToSvg(item.scene)))
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      expect([info.width, info.height]).toEqual([item.scene.widthPx, item.scene.heightPx]);
      for (const s of item.scene.shapes) {
        const at = (Math.round(s.cy) * info.width + Math.round(s.cx)) * 3;
        expect(colourOf([data[at]!, data[at + 1]!, data[at + 2]!]), `${item.image} ${s.colour} ${s.kind}`).toBe(s.colour);
      }
    }
  });
});

describe('generateSyntheticDataset', () => {
  const root = tempDir('capgen-synth-');

  it('writes a Flickr8k folder that the prepare reader accepts whole', async () => {
    const outDir = path.join(root, 'flickr');
    const started = Date.now();
    await generateSyntheticDataset({ outDir, count: 60, seed: 3 });
    expect(Date.now() - started).toBeLessThan(10_000);

    const images = readdirSync(path.join(outDir, 'Images')).sort();
    expect(images).toHaveLength(60);
    const tokenLines = readFileSync(path.join(outDir, 'Flickr8k.token.txt'), 'utf8').trimEnd().split('\n');
    expect(tokenLines).toHaveLength(300);
    for (const line of tokenLines) expect(line).toMatch(/^scene_\d{5}\.png#[0-4]\t[A-Z][a-z ,:]+ \.$/);
    const lists = ['train', 'dev', 'test'].map((s) =>
      readFileSync(path.join(outDir, `Flickr_8k.${s}Images.txt`), 'utf8')
        .trim()
        .split('\n'),
    );
    expect(lists.map((l) => l.length)).toEqual([48, 6, 6]);
    expect(new Set(lists.flat())).toEqual(new Set(images));
    const meta = await sharp(path.join(outDir, 'Images', images[0]!)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 128, 128]);

    const loaded = await loadDataset({
      dataDir: outDir,
      rules: DEFAULT_CLEANING,
      splitRatios: [0.8, 0.1, 0.1],
      forceRandomSplit: false,
      seed: 1,
    });
    expect(loaded.layout.format).toBe('flickr8k');
    expect(loaded.captions).toHaveLength(300);
    expect(loaded.malformed).toEqual([]);
    expect(loaded.missingImages).toEqual([]);
    const bySplit = { train: 0, dev: 0, test: 0 };
    for (const c of loaded.captions) bySplit[c.split]++;
    expect(bySplit).toEqual({ train: 240, dev: 30, test: 30 });
  });

  it('writes byte-identical files for the same seed', async () => {
    const a = path.join(root, 'a');
    const b = path.join(root, 'b');
    await generateSyntheticDataset({ outDir: a, count: 12, seed: 9 });
    await generateSyntheticDataset({ outDir: b, count: 12, seed: 9 });
    for (const name of ['Flickr8k.token.txt', 'Flickr_8k.testImages.txt', 'Images/scene_00007.png']) {
      expect(readFileSync(path.join(a, name)).equals(readFileSync(path.join(b, name)))).toBe(true);
    }
  });

  it('replaces its own earlier output but refuses a folder it did not write', async () => {
    const own = path.join(root, 'own');
    await generateSyntheticDataset({ outDir: own, count: 20, seed: 1 });
    await generateSyntheticDataset({ outDir: own, count: 10, seed: 1 });
    expect(readdirSync(path.join(own, 'Images'))).toHaveLength(10);

    const foreign = path.join(root, 'foreign');
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, 'precious.txt'), 'keep me');
    await expect(generateSyntheticDataset({ outDir: foreign, count: 10, seed: 1 })).rejects.toBeInstanceOf(CapgenError);
    expect(existsSync(path.join(foreign, 'precious.txt'))).toBe(true);
  });

  it('rejects counts too small for three splits', async () => {
    await expect(generateSyntheticDataset({ outDir: path.join(root, 'tiny'), count: 2, seed: 1 })).rejects.toThrow(/--count/);
  });
});
