// The built CLI as a child process: `capgen prepare --encoder none` on generated datasets, and
// the exit code 2 + one-line errors for bad input.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PrepareRecord, PreparedCaption, VocabularyFile } from '../../src/run/formats.js';
import { cleanCaption, DEFAULT_CLEANING } from '../../src/text/clean.js';
import { runCli, tempDir } from '../helpers.js';
import { flickr8kTokenText, tinyImages, writeFlickr8kDataset } from './fixtures.js';

const root = tempDir('capgen-prepare-cli-');

function expectOneLineError(r: { code: number; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines[lines.length - 1]).toMatch(/^capgen: error: /);
  expect(lines.filter((l) => l.startsWith('capgen: error:'))).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe('capgen prepare (built CLI)', () => {
  it('prepares a Flickr8k-format folder: outputs agree with an independent computation', async () => {
    const images = tinyImages(40, 3);
    const names = images.map((i) => i.name);
    const dir = path.join(root, 'data');
    writeFlickr8kDataset(dir, images, { train: names.slice(0, 30), dev: names.slice(30, 35), test: names.slice(35) });
    const missing = names[2]!;
    rmSync(path.join(dir, 'Images', missing));
    // one malformed line (1 of 121 records: under 1%), one duplicate id
    writeFileSync(path.join(dir, 'Flickr8k.token.txt'), `${flickr8kTokenText(images)}garbage line\n${names[0]}#0\tA duplicate .\n`);
    const out = path.join(root, 'run');

    const r = await runCli([
      'prepare',
      '--data',
      dir,
      '--out',
      out,
      '--encoder',
      'none',
      '--min-count',
      '2',
      '--max-length',
      '4',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Flickr8k\.token\.txt:121: expected IMAGE\.jpg#N<TAB>caption/);
    expect(r.stderr).toMatch(/duplicate caption id img_000\.jpg#0/);
    expect(r.stderr).toMatch(/captions\s+117 \(train 87, dev 15, test 15\)/); // the closing summary

    // Expected, computed here: captions of present images, split by the lists, cut to 4 tokens.
    const split = (n: string) => (names.indexOf(n) < 30 ? 'train' : names.indexOf(n) < 35 ? 'dev' : 'test');
    const expected = images
      .filter((i) => i.name !== missing)
      .flatMap((i) =>
        i.captions.map((raw) => ({ image: i.name, split: split(i.name), raw: raw.trim(), tokens: cleanCaption(raw).slice(0, 4) })),
      );
    const rows = readFileSync(path.join(out, 'captions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as PreparedCaption);
    expect(rows).toEqual(expected);

    const counts = new Map<string, number>();
    for (const row of expected.filter((e) => e.split === 'train')) for (const t of row.tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
    const words = [...counts]
      .filter(([, n]) => n >= 2)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([w]) => w);
    const vocab = JSON.parse(readFileSync(path.join(out, 'vocab.json'), 'utf8')) as VocabularyFile;
    expect(vocab.tokens).toEqual(['<pad>', '<start>', '<end>', '<unk>', ...words]);
    expect(vocab.minCount).toBe(2);

    expect(readFileSync(path.join(out, 'missing-images.txt'), 'utf8')).toBe(`${missing}\n`);
    const record = JSON.parse(readFileSync(path.join(out, 'prepare.json'), 'utf8')) as PrepareRecord;
    expect(record.cleaning).toEqual(DEFAULT_CLEANING);
    expect(record.maxCaptionLength).toBe(4);
    expect(record.features).toBeUndefined();

    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({
      format: 'flickr8k',
      images: 39,
      captions: expected.length,
      vocabularySize: words.length + 4,
      splitSource: 'official',
      splitImages: { train: 29, dev: 5, test: 5 },
      malformedLines: 1,
      duplicateCaptions: 1,
      missingImages: 1,
      maxCaptionLength: 4,
      truncated: expected.filter((e) => cleanCaption(e.raw).length > 4).length,
    });
  });

  it('a missing --data folder: exit 2 and one line naming it', async () => {
    const r = await runCli(['prepare', '--data', path.join(root, 'no-such-folder'), '--out', path.join(root, 'run2'), '--encoder', 'none']);
    expectOneLineError(r, /no-such-folder: dataset folder not found/);
  });

  it('more than 1% malformed lines: exit 2 naming the file', async () => {
    const images = tinyImages(10, 3);
    const dir = path.join(root, 'bad');
    writeFlickr8kDataset(dir, images);
    writeFileSync(path.join(dir, 'Flickr8k.token.txt'), `${flickr8kTokenText(images)}bad one\nbad two\n`);
    const r = await runCli(['prepare', '--data', dir, '--out', path.join(root, 'run3'), '--encoder', 'none']);
    expectOneLineError(r, /Flickr8k\.token\.txt: 2 of 32 records \(6\.3%\) are malformed/);
  });

  it('--dataset synthetic generates a Flickr8k folder inside the run folder and prepares it', async () => {
    const out = path.join(root, 'synth');
    const r = await runCli([
      'prepare',
      '--dataset',
      'synthetic',
      '--count',
      '12',
      '--seed',
      '5',
      '--encoder',
      'none',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.format).toBe('flickr8k');
    expect(summary.splitSource).toBe('official');
    expect(summary.images).toBe(12);
    expect(summary.captions).toBe(60);
    const tokenLines = readFileSync(path.join(out, 'dataset', 'Flickr8k.token.txt'), 'utf8')
      .trim()
      .split('\n');
    expect(tokenLines).toHaveLength(60);
  });
});

describe('capgen prepare with image features (built CLI)', () => {
  it('an undecodable image goes to bad-images.txt and its captions are left out; prepare.json records the features', async () => {
    const images = tinyImages(8, 2);
    const dir = path.join(root, 'with-features');
    writeFlickr8kDataset(dir, images, { train: images.slice(0, 6).map((i) => i.name), dev: images.slice(6).map((i) => i.name) });
    const sharp = (await import('sharp')).default;
    for (const [k, img] of images.entries()) {
      if (k === 3) continue; // stays a text file: not an image
      const png = await sharp({ create: { width: 16, height: 12, channels: 3, background: { r: 30 * k, g: 100, b: 200 - 20 * k } } })
        .jpeg()
        .toBuffer();
      writeFileSync(path.join(dir, 'Images', img.name), png);
    }
    const out = path.join(root, 'run-features');
    const r = await runCli([
      'prepare',
      '--data',
      dir,
      '--out',
      out,
      '--encoder',
      'seeded-cnn',
      '--min-count',
      '1',
      '--backend',
      'wasm',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/backend: WASM/);
    const badLines = readFileSync(path.join(out, 'bad-images.txt'), 'utf8').trim().split('\n');
    expect(badLines).toHaveLength(1);
    expect(badLines[0]!.split('\t')[0]).toBe(images[3]!.name);
    expect(badLines[0]!.split('\t')[1]!.length).toBeGreaterThan(0);
    const rows = readFileSync(path.join(out, 'captions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as PreparedCaption);
    expect(rows.map((c) => c.image)).toEqual(images.filter((_, k) => k !== 3).flatMap((i) => [i.name, i.name]));
    const record = JSON.parse(readFileSync(path.join(out, 'prepare.json'), 'utf8')) as PrepareRecord;
    expect(record.features?.encoder.architecture).toBe('seeded-cnn');
    expect(record.features?.dir).toMatch(/^features\//);
    expect(JSON.parse(r.stdout)).toMatchObject({ images: 7, badImages: 1, features: { computed: 7, reused: 0 } });
  });
});
