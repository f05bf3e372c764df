// webdataset input: tars built here with tar-stream's pack from sharp-generated images (no downloads).
// prepare reads them as streams (brace pattern, folder, one tar), featurises the images from their bytes
// (the same vectors as from files), skips a sample without a caption with a warning and refuses a tar
// where more than 1% lack one, and a truncated tar or a file that is not a tar is one line, exit 2.
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import sharp from 'sharp';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { openFeatureCache } from '../../src/features/cache.js';
import { loadDataset } from '../../src/prepare/dataset.js';
import { expandBraces, openWebdataset, splitKey } from '../../src/prepare/readers/webdataset.js';
import type { PrepareRecord, PreparedCaption } from '../../src/run/formats.js';
import { DEFAULT_CLEANING } from '../../src/text/clean.js';
import { runCli, tempDir } from '../helpers.js';

const root = tempDir('capgen-wds-');

interface SampleSpec {
  key: string;
  ext: 'jpg' | 'png' | 'webp';
  /** `.txt` caption */
  txt?: string;
  /** `.json` caption field */
  json?: string;
  /** no image member */
  noImage?: boolean;
}

/** A tiny image whose colour depends on the key, in the member's format. */
async function imageBytes(key: string, ext: SampleSpec['ext']): Promise<Buffer> {
  const n = [...key].reduce((a, c) => a * 31 + c.charCodeAt(0), 7);
  const img = sharp({ create: { width: 20, height: 14, channels: 3, background: { r: n % 256, g: (n >> 8) % 256, b: (n >> 16) % 256 } } });
  return (ext === 'jpg' ? img.jpeg() : ext === 'png' ? img.png() : img.webp({ lossless: true })).toBuffer();
}

/** Writes a webdataset tar (members of a sample next to each other, as img2dataset writes them). */
async function writeTar(file: string, samples: SampleSpec[]): Promise<Map<string, Buffer>> {
  const pack = tar.pack();
  const done = pipeline(pack, createWriteStream(file));
  const images = new Map<string, Buffer>();
  for (const s of samples) {
    if (!s.noImage) {
      const bytes = await imageBytes(s.key, s.ext);
      images.set(`${s.key}.${s.ext}`, bytes);
      pack.entry({ name: `${s.key}.${s.ext}` }, bytes);
    }
    if (s.txt !== undefined) pack.entry({ name: `${s.key}.txt` }, s.txt);
    if (s.json !== undefined) pack.entry({ name: `${s.key}.json` }, JSON.stringify({ url: 'http://x', caption: s.json, width: 20 }));
    else pack.entry({ name: `${s.key}.json` }, JSON.stringify({ url: 'http://x', width: 20 }));
  }
  pack.finalize();
  await done;
  return images;
}

const WORDS = ['red', 'blue', 'green', 'dog', 'cat', 'ball', 'runs', 'sits'];
const caption = (i: number) => `a ${WORDS[i % 3]} ${WORDS[3 + (i % 3)]} ${WORDS[6 + (i % 2)]}`;
/** img2dataset's keys: 5-digit shard id + 4-digit index. */
const key = (shard: number, i: number) => `${String(shard).padStart(5, '0')}${String(i).padStart(4, '0')}`;

/** Three shards of 4 samples: captions in .txt, in .json or both; jpg, png and webp images. */
async function writeShards(dir: string): Promise<Map<string, Buffer>> {
  mkdirSync(dir, { recursive: true });
  const all = new Map<string, Buffer>();
  for (let s = 0; s < 3; s++) {
    const samples: SampleSpec[] = Array.from({ length: 4 }, (_, i) => {
      const k = s * 4 + i;
      const ext = (['jpg', 'png', 'webp'] as const)[k % 3];
      return k % 3 === 0
        ? { key: key(s, i), ext, txt: caption(k) }
        : k % 3 === 1
          ? { key: key(s, i), ext, json: caption(k) }
          : { key: key(s, i), ext, txt: caption(k), json: 'ignored when there is a txt' };
    });
    const images = await writeTar(path.join(dir, `${String(s).padStart(5, '0')}.tar`), samples);
    for (const [member, bytes] of images) all.set(`${String(s).padStart(5, '0')}.tar/${member}`, bytes);
  }
  return all;
}

function expectOneLineError(r: { code: number; stderr: string }, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('capgen: error:'));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('webdataset helpers', () => {
  it('expands brace ranges and lists as shard lists are written', () => {
    expect(expandBraces('d/{00000..00002}.tar')).toEqual(['d/00000.tar', 'd/00001.tar', 'd/00002.tar']);
    expect(expandBraces('{a,b}/{8..10}.tar')).toEqual(['a/8.tar', 'a/9.tar', 'a/10.tar', 'b/8.tar', 'b/9.tar', 'b/10.tar']);
    expect(expandBraces('plain.tar')).toEqual(['plain.tar']);
  });

  it('splits a member name into key and extension at the first dot of the file name', () => {
    expect(splitKey('000120034.jpg')).toEqual({ key: '000120034', ext: 'jpg' });
    expect(splitKey('sub.dir/x.seg.PNG')).toEqual({ key: 'sub.dir/x', ext: 'seg.png' });
  });
});

describe('prepare --format webdataset', () => {
  it('reads a brace pattern of tars: one caption per sample, .txt before .json, images named <tar>/<key>.<ext>', async () => {
    const dir = path.join(root, 'shards');
    const images = await writeShards(dir);
    const ds = await openWebdataset(path.join(dir, '{00000..00002}.tar'));
    expect(ds.inputs.map((t) => path.basename(t))).toEqual(['00000.tar', '00001.tar', '00002.tar']);
    const captions = ds.parsed.flatMap((p) => p.captions);
    expect(captions.map((c) => c.image)).toEqual([...images.keys()]);
    expect(captions.map((c) => c.raw)).toEqual(Array.from({ length: 12 }, (_, k) => caption(k)));
    // the image source yields the very bytes packed into the tars
    const got = new Map<string, Buffer>();
    for await (const img of ds.images.read([...images.keys()].reverse())) got.set(img.name, img.bytes!);
    expect(got).toEqual(images);
    // a shard reads only its own tars (positions i, i + N, ...)
    const shard1 = await openWebdataset(dir, { shard: { index: 1, count: 2 } });
    expect(shard1.inputs.map((t) => path.basename(t))).toEqual(['00001.tar']);
    expect(shard1.parsed.flatMap((p) => p.captions).every((c) => c.image.startsWith('00001.tar/'))).toBe(true);
    // ... and so does loadDataset given the shard (what prepare --shard passes for input files)
    const base = { rules: DEFAULT_CLEANING, splitRatios: [0.5, 0.25, 0.25] as [number, number, number], forceRandomSplit: false, seed: 1 };
    const loaded = await loadDataset({ ...base, dataDir: dir, inputShard: { index: 0, count: 2 } });
    expect(new Set(loaded.captions.map((c) => c.image.split('/')[0]))).toEqual(new Set(['00000.tar', '00002.tar']));
    expect(loaded.splits.source).toBe('random');
  });

  it('the built CLI: features from the tar bytes equal those of the same images as files; random split', async () => {
    const dir = path.join(root, 'cli-shards');
    const images = await writeShards(dir);
    const run = path.join(root, 'run-wds');
    const r = await runCli([
      'prepare',
      '--data',
      path.join(dir, '{00000..00002}.tar'),
      '--run',
      run,
      '--encoder',
      'seeded-cnn',
      '--min-count',
      '1',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      format: 'webdataset',
      images: 12,
      captions: 12,
      splitSource: 'random',
      features: { computed: 12 },
    });
    const rows = readFileSync(path.join(run, 'captions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as PreparedCaption);
    expect(rows.map((c) => c.image).sort()).toEqual([...images.keys()].sort());

    // the same bytes as files in a Kaggle-style folder, prepared the ordinary way
    const folder = path.join(root, 'as-files');
    mkdirSync(path.join(folder, 'Images'), { recursive: true });
    const flat = (name: string) => name.replace('/', '_');
    for (const [name, bytes] of images) writeFileSync(path.join(folder, 'Images', flat(name)), bytes);
    writeFileSync(
      path.join(folder, 'captions.txt'),
      `image,caption\n${[...images.keys()].map((n, k) => `${flat(n)},${caption(k)}`).join('\n')}\n`,
    );
    const filesRun = path.join(root, 'run-files');
    const f = await runCli(['prepare', '--data', folder, '--run', filesRun, '--encoder', 'seeded-cnn', '--min-count', '1']);
    expect(f.code, f.stderr).toBe(0);
    const cacheOf = async (runDir: string) => {
      const record = JSON.parse(readFileSync(path.join(runDir, 'prepare.json'), 'utf8')) as PrepareRecord;
      return openFeatureCache(path.join(runDir, record.features!.dir));
    };
    const [fromTars, fromFiles] = [await cacheOf(run), await cacheOf(filesRun)];
    for (const name of images.keys()) expect(fromTars.get(name)).toEqual(fromFiles.get(flat(name)));
    fromTars.close();
    fromFiles.close();

    // a folder of tars is detected without --format
    const detected = await runCli([
      'prepare',
      '--data',
      dir,
      '--run',
      path.join(root, 'run-detect'),
      '--encoder',
      'none',
      '--min-count',
      '1',
      '--json',
    ]);
    expect(detected.code, detected.stderr).toBe(0);
    expect(JSON.parse(detected.stdout)).toMatchObject({ format: 'webdataset', images: 12 });
  }, 120_000);

  it('samples without a caption: skipped with a warning up to 1%, an error naming the tar above', async () => {
    const dir = path.join(root, 'uncaptioned');
    mkdirSync(dir);
    // 100 samples, one without a caption: 1%, skipped
    const many: SampleSpec[] = Array.from({ length: 100 }, (_, i) =>
      i === 7 ? { key: key(0, i), ext: 'png' } : { key: key(0, i), ext: 'png', txt: caption(i) },
    );
    await writeTar(path.join(dir, '00000.tar'), many);
    const ok = await runCli([
      'prepare',
      '--data',
      path.join(dir, '00000.tar'),
      '--run',
      path.join(root, 'run-skip'),
      '--encoder',
      'none',
      '--min-count',
      '1',
      '--json',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain(`${path.join(dir, '00000.tar')}:8: sample ${key(0, 7)} has no caption`);
    expect(JSON.parse(ok.stdout)).toMatchObject({ images: 99, malformedLines: 1 });
    // 10 samples, 2 without: 20%
    const few: SampleSpec[] = Array.from({ length: 10 }, (_, i) =>
      i < 2 ? { key: key(1, i), ext: 'jpg' } : { key: key(1, i), ext: 'jpg', json: caption(i) },
    );
    await writeTar(path.join(dir, '00001.tar'), few);
    const bad = await runCli(['prepare', '--data', path.join(dir, '00001.tar'), '--run', path.join(root, 'run-bad'), '--encoder', 'none']);
    expectOneLineError(
      bad,
      new RegExp(
        `${path.join(dir, '00001.tar').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 2 of 10 records .* malformed for the webdataset format`,
      ),
    );
  }, 60_000);

  it('a truncated tar, a file that is not a tar, a missing shard: one line naming the file, exit 2', async () => {
    const dir = path.join(root, 'broken');
    await writeShards(dir);
    const whole = readFileSync(path.join(dir, '00001.tar'));
    writeFileSync(path.join(dir, '00001.tar'), whole.subarray(0, 1500)); // inside the first image
    const truncated = await runCli([
      'prepare',
      '--data',
      path.join(dir, '{00000..00002}.tar'),
      '--run',
      path.join(root, 'run-t'),
      '--encoder',
      'none',
    ]);
    expectOneLineError(truncated, new RegExp(`${path.join(dir, '00001.tar')}: truncated tar file`));

    writeFileSync(path.join(dir, '00001.tar'), 'this is a text file, not a tar archive\n'.repeat(40));
    const notTar = await runCli([
      'prepare',
      '--data',
      path.join(dir, '{00000..00002}.tar'),
      '--run',
      path.join(root, 'run-n'),
      '--encoder',
      'none',
    ]);
    expectOneLineError(notTar, new RegExp(`${path.join(dir, '00001.tar')}: not a readable tar file`));

    const missing = await runCli([
      'prepare',
      '--data',
      path.join(dir, '{00000..00004}.tar'),
      '--run',
      path.join(root, 'run-m'),
      '--encoder',
      'none',
    ]);
    expectOneLineError(missing, new RegExp(`${path.join(dir, '00003.tar')}: 2 of 5 tar files named by --data do not exist`));

    const images = await runCli([
      'prepare',
      '--data',
      path.join(dir, '00000.tar'),
      '--images',
      dir,
      '--run',
      path.join(root, 'run-i'),
      '--encoder',
      'none',
    ]);
    expectOneLineError(images, /--images does not apply to webdataset input/);
  }, 60_000);
});
