// `capgen demo` through the built CLI on a tiny dataset (one epoch): every stage runs, the closing
// table shows held-out scenes with their references, and a foreign folder is never overwritten.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';

describe('capgen demo (built CLI)', () => {
  const root = tempDir('capgen-demo-');

  it('runs prepare, train, eval and caption, and shows generated vs reference captions', async () => {
    const out = path.join(root, 'demo');
    const r = await runCli(['demo', '--run', out, '--count', '30', '--epochs', '1', '--show', '2'], { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    for (const stage of ['prepare', 'train', 'eval', 'caption']) expect(r.stderr).toContain(`demo: ${stage} finished`);
    const record = JSON.parse(readFileSync(path.join(out, 'demo.json'), 'utf8')) as {
      status: string;
      samples: { image: string; generated: string; references: string[] }[];
      files: Record<string, string>;
    };
    expect(record.status).toBe('done');
    expect(record.samples).toHaveLength(2);
    // The shown scenes are the first two of the test list, with their five references from the run.
    const testList = readFileSync(path.join(out, 'dataset', 'Flickr_8k.testImages.txt'), 'utf8')
      .trim()
      .split('\n');
    expect(record.samples.map((s) => s.image)).toEqual(testList.slice(0, 2));
    for (const s of record.samples) {
      expect(s.references).toHaveLength(5);
      expect(s.generated.length).toBeGreaterThan(0);
      expect(r.stdout).toContain(s.image);
      expect(r.stdout).toContain(s.references[0]);
    }
    for (const file of Object.values(record.files)) expect(existsSync(file), file).toBe(true);
    expect(r.stdout).toMatch(/BLEU-4 \d\.\d{3}/);
  }, 600_000);

  it('refuses a non-empty folder that it did not write, with a one-line error', async () => {
    const foreign = path.join(root, 'foreign');
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, 'notes.txt'), 'mine');
    const r = await runCli(['demo', '--run', foreign, '--count', '30', '--epochs', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('not written by `capgen demo`');
    expect(readFileSync(path.join(foreign, 'notes.txt'), 'utf8')).toBe('mine');
  });
});
