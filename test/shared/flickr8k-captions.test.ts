// Real data: `capgen prepare` (captions only) on the Flickr8k files in ../shared, in both formats.
// Skipped, with a note from test/helpers.ts, where ../shared is absent (a user's fresh clone).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_SHARED, SHARED_DIR, runCli, tempDir } from '../helpers.js';

const FLICKR8K = path.join(SHARED_DIR, 'data', 'flickr8k');

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

describe.skipIf(!HAS_SHARED)('prepare on the real Flickr8k captions in ../shared', () => {
  it('token file + official train/dev lists: the counts the lists and the token file imply', async () => {
    const out = path.join(tempDir(), 'run');
    const r = await runCli(['prepare', '--data', FLICKR8K, '--encoder', 'none', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const train = new Set(lines(path.join(FLICKR8K, 'Flickr_8k.trainImages.txt')));
    const dev = new Set(lines(path.join(FLICKR8K, 'Flickr_8k.devImages.txt')));
    const captions = lines(path.join(out, 'captions.jsonl')).map((l) => JSON.parse(l) as { image: string; split: string });
    // every caption of a listed image is kept (5 each), and nothing else
    expect(captions.filter((c) => c.split === 'train').length).toBe(5 * train.size);
    expect(captions.filter((c) => c.split === 'dev').length).toBe(5 * dev.size);
    expect(captions.every((c) => (c.split === 'train' ? train : dev).has(c.image))).toBe(true);
    const vocab = JSON.parse(readFileSync(path.join(out, 'vocab.json'), 'utf8')) as { tokens: string[] };
    expect(vocab.tokens.slice(0, 5)).toEqual(['<pad>', '<start>', '<end>', '<unk>', 'a']);
    expect(r.stderr).toMatch(/no test split list/);
  });

  it('Kaggle captions.txt alone: a seeded random split over every image', async () => {
    const root = tempDir();
    const data = path.join(root, 'kaggle');
    const { mkdirSync, copyFileSync, symlinkSync } = await import('node:fs');
    mkdirSync(data);
    copyFileSync(path.join(FLICKR8K, 'captions.txt'), path.join(data, 'captions.txt'));
    symlinkSync(path.join(FLICKR8K, 'Images'), path.join(data, 'Images'));
    const r = await runCli(['prepare', '--data', data, '--encoder', 'none', '--out', path.join(root, 'run')]);
    expect(r.code, r.stderr).toBe(0);
    const captionLines = lines(path.join(data, 'captions.txt')).length - 1; // header
    expect(lines(path.join(root, 'run', 'captions.jsonl')).length).toBe(captionLines);
    expect(r.stderr).toMatch(/random split/);
  });
});
