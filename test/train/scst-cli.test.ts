// `capgen train --objective scst` as a user runs it, after a cross-entropy training of the tiny run.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';
import { tinyRunWithCache } from './scst-fixture.js';

const SMALL = ['--embedding-size', '8', '--hidden-size', '16', '--batch-size', '4'];

describe('capgen train --objective scst (CLI)', () => {
  it("fine-tunes the run's cross-entropy best, keeps that training in train-xe, records where it came from", async () => {
    const tiny = await tinyRunWithCache();
    const xe = await runCli(['train', '--run', tiny.runDir, '--epochs', '3', ...SMALL, '--lr', '0.01']);
    expect(xe.code, xe.stderr).toBe(0);
    const r = await runCli([
      'train',
      '--run',
      tiny.runDir,
      '--objective',
      'scst',
      '--epochs',
      '3',
      '--batch-size',
      '4',
      '--lr',
      '0.001',
      '--json',
    ]);
    console.log(r.stderr);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    console.log(out);
  }, 300_000);
});
