// Defect 7: one giant caption (a 1 MB line, 260,000 tokens) was accepted silently and set the
// padded length of training batches (3 GB of memory in seconds). Now the longest caption kept
// defaults to the 99.9th percentile of the data's lengths (capped), with a warning that says how
// many captions were cut; --max-length overrides it.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultMaxLength, MAX_LENGTH_CAP } from '../../src/prepare/captions.js';
import type { PrepareRecord } from '../../src/run/formats.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { SCENES } from './fixtures.js';

describe('default maximum caption length (unit)', () => {
  it('is the 99.9th percentile of the lengths, capped', () => {
    const lengths = [...Array.from({ length: 5000 }, (_, i) => 5 + (i % 20)), 260_000];
    expect(defaultMaxLength(lengths)).toBe(24); // the giant one and the few longest are above it
    expect(defaultMaxLength([3, 4, 5])).toBe(5); // small data: the percentile is the longest
    expect(defaultMaxLength(Array.from({ length: 10 }, () => 500))).toBe(MAX_LENGTH_CAP);
  });
});

describe.skipIf(!existsSync(BIN))('one giant caption (CLI)', () => {
  const root = tempDir('capgen-giant-');

  it('is cut with a warning naming the count; --max-length overrides the default', async () => {
    const data = path.join(root, 'data');
    const made = await runCli([
      'prepare',
      '--dataset',
      'synthetic',
      '--count',
      SCENES,
      '--seed',
      '1',
      '--data',
      data,
      '--out',
      path.join(root, 'gen'),
      '--encoder',
      'none',
    ]);
    expect(made.code, made.stderr).toBe(0);
    const giant = Array.from({ length: 50_000 }, (_, i) => ['red', 'blue', 'circle', 'square'][i % 4]).join(' ');
    await fs.appendFile(path.join(data, 'Flickr8k.token.txt'), `scene_00001.png#9\t${giant}\n`);

    const out = path.join(root, 'run');
    const r = await runCli(['prepare', '--data', data, '--encoder', 'none', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    // 201 captions: the 99.9th percentile is the giant one itself, so the cap decides
    expect(r.stderr).toMatch(
      /warning: 1 caption was cut to 100 tokens \(the 99\.9th percentile of caption lengths, capped at 100; --max-length N to change it\)/,
    );
    const record = JSON.parse(await fs.readFile(path.join(out, 'prepare.json'), 'utf8')) as PrepareRecord;
    expect(record.maxCaptionLength).toBe(MAX_LENGTH_CAP);
    const longest = (await fs.readFile(path.join(out, 'captions.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { tokens: string[] }).tokens.length);
    expect(Math.max(...longest)).toBe(MAX_LENGTH_CAP);

    const given = await runCli(['prepare', '--data', data, '--encoder', 'none', '--max-length', '8', '--out', path.join(root, 'given')]);
    expect(given.code, given.stderr).toBe(0);
    expect(given.stderr).toMatch(/warning: \d+ captions were cut to 8 tokens \(--max-length\)/);
  }, 120_000);
});
