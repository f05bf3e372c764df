// bench/lib/synthetic-run.mjs, the generator of the COCO-scale training benchmark's run folder, at a
// tiny size: what it writes is what `capgen prepare` writes (the cache opens with every row intact,
// prepare.json names it), and `capgen train --feature-store disk` trains on it through the built CLI.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSyntheticRun } from '../../bench/lib/synthetic-run.mjs';
import { openFeatureCache } from '../../src/features/cache.js';
import { readCaptions } from '../../src/train/data.js';
import type { PrepareRecord } from '../../src/run/formats.js';
import { runCli, tempDir } from '../helpers.js';

describe('the synthetic run generator of the training benchmarks', () => {
  it('writes a prepared run of 200 spatial images that the CLI trains on from disk', async () => {
    const out = path.join(tempDir('capgen-synthetic-run-'), 'run');
    const r = await writeSyntheticRun({ out, images: 200, grid: 3, channels: 8, vocab: 50 });
    const prepare = JSON.parse(readFileSync(path.join(out, 'prepare.json'), 'utf8')) as PrepareRecord;
    expect(prepare.features?.encoder.featureShape).toEqual([3, 3, 8]);
    expect(prepare.features?.encoder.pooling).toBe('none');

    const cache = await openFeatureCache(path.join(out, prepare.features!.dir));
    expect(cache.damaged).toBe(0);
    expect(cache.names()).toHaveLength(200);
    expect(cache.dtype).toBe('float16');
    expect(statSync(path.join(out, prepare.features!.dir, 'vectors.bin')).size).toBe(r.vectorBytes);
    expect(r.vectorBytes).toBe(200 * 3 * 3 * 8 * 2);
    const row = cache.get(cache.names()[17])!;
    expect(row.every((v) => v >= 0 && Number.isFinite(v))).toBe(true); // post-ReLU-like
    expect(new Set(row).size).toBeGreaterThan(5);
    cache.close();

    const captions = await readCaptions(path.join(out, 'captions.jsonl'));
    expect(captions).toHaveLength(1000);
    const images = (split: string) => new Set(captions.filter((c) => c.split === split).map((c) => c.image)).size;
    // The Karpathy split's shares, scaled: 5000 of 123,287 images each for dev and test.
    expect([images('train'), images('dev'), images('test')]).toEqual([184, 8, 8]);
    const lengths = captions.map((c) => c.tokens.length);
    const mean = lengths.reduce((a, b) => a + b, 0) / lengths.length;
    expect(mean).toBeGreaterThan(9.5);
    expect(mean).toBeLessThan(11.5);
    expect(Math.max(...lengths)).toBe(prepare.maxCaptionLength);

    const train = await runCli(
      ['train', '--run', out, '--decoder', 'attention', '--feature-store', 'disk', '--max-steps', '2', '--batch-size', '16'].concat([
        '--hidden-size',
        '16',
        '--embedding-size',
        '8',
        '--attention-size',
        '8',
        '--projection-size',
        '8',
      ]),
    );
    expect(train.code, train.stderr).toBe(0);
    expect(train.stderr).toMatch(/feature store disk \(asked for/);
    expect(train.stderr).toMatch(/2 steps in [\d.]+ s = [\d.]+ steps\/s/);
  }, 120_000);
});
