// Defect 3: the feature cache was keyed by file name only: an image replaced by other content kept
// its old vector ("0 computed, 200 reused"). Now it is keyed on the bytes of the image: a changed
// image is recomputed, and a renamed copy reuses the vector without running the encoder.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { openFeatureCache } from '../../src/features/cache.js';
import type { PrepareRecord } from '../../src/run/formats.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { SCENES } from './fixtures.js';

async function featureOf(runDir: string, image: string): Promise<Float32Array> {
  const record = JSON.parse(await fs.readFile(path.join(runDir, 'prepare.json'), 'utf8')) as PrepareRecord;
  const cache = await openFeatureCache(path.join(runDir, record.features!.dir));
  try {
    const v = cache.get(image);
    expect(v, `${image} in ${runDir}`).toBeDefined();
    return Float32Array.from(v!);
  } finally {
    cache.close();
  }
}

async function prepare(dataDir: string, outDir: string, extra: string[] = []) {
  const r = await runCli(['prepare', '--data', dataDir, '--encoder', 'seeded-cnn', '--seed', '1', '--out', outDir, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return r;
}

describe.skipIf(!existsSync(BIN))('feature cache keyed on image content', () => {
  const root = tempDir('capgen-content-');

  it('a replaced image is recomputed; a renamed copy is reused; both give the vectors a fresh run computes', async () => {
    const data = path.join(root, 'data');
    const run = path.join(root, 'run');
    const first = await runCli(['prepare', '--dataset', 'synthetic', '--count', SCENES, '--seed', '1', '--data', data, '--out', run]);
    expect(first.code, first.stderr).toBe(0);
    const images = path.join(data, 'Images');
    const before = await featureOf(run, 'scene_00001.png');

    // Other content under the same name (the scene upside down), and a copy under a new name.
    await fs.writeFile(path.join(images, 'scene_00001.png'), await sharp(path.join(images, 'scene_00001.png')).flip().png().toBuffer());
    await fs.copyFile(path.join(images, 'scene_00003.png'), path.join(images, 'copy_of_00003.png'));
    const tokenFile = path.join(data, 'Flickr8k.token.txt');
    await fs.appendFile(tokenFile, 'copy_of_00003.png#0\tA copy of a scene .\n');
    await fs.appendFile(path.join(data, 'Flickr_8k.trainImages.txt'), 'copy_of_00003.png\n');

    const again = await prepare(data, run);
    expect(again.stderr).toMatch(/1 images to encode, 40 already cached \(1 under another name\)/);
    expect(again.stderr).toMatch(/features: 1 computed, 40 reused/);
    const changed = await featureOf(run, 'scene_00001.png');
    expect(Math.max(...changed.map((v, i) => Math.abs(v - before[i])))).toBeGreaterThan(1e-3);

    const fresh = path.join(root, 'fresh');
    await prepare(data, fresh);
    expect([...changed]).toEqual([...(await featureOf(fresh, 'scene_00001.png'))]);
    expect([...(await featureOf(run, 'copy_of_00003.png'))]).toEqual([...(await featureOf(fresh, 'copy_of_00003.png'))]);
    expect([...(await featureOf(run, 'copy_of_00003.png'))]).toEqual([...(await featureOf(run, 'scene_00003.png'))]);
  }, 120_000);
});
