// `capgen export` refuses bad input with one line and exit code 2, and writes nothing then.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';

describe('capgen export: bad input', () => {
  const dir = tempDir('capgen-export-cli-');

  it('a run without a checkpoint: exit 2, one line naming the file, no output folder', async () => {
    const out = path.join(dir, 'out');
    const r = await runCli(['export', '--run', path.join(dir, 'empty'), '--format', 'tfjs', '--out', out]);
    expect(r.code).toBe(2);
    expect(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('capgen')),
    ).toHaveLength(1);
    expect(r.stderr).toMatch(/empty\/train\/best\/checkpoint\.json: no checkpoint here/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --verbose
    expect(existsSync(out)).toBe(false);
  });

  it('a damaged checkpoint.json: exit 2 naming it', async () => {
    const ckpt = path.join(dir, 'bad', 'train', 'best');
    mkdirSync(ckpt, { recursive: true });
    writeFileSync(path.join(ckpt, 'checkpoint.json'), '{"format": 1,');
    const r = await runCli(['export', '--run', path.join(dir, 'bad'), '--format', 'web', '--out', path.join(dir, 'site')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/checkpoint\.json: checkpoint\.json is not valid JSON/);
  });

  it('an unknown format is a usage error listing the choices', async () => {
    const r = await runCli(['export', '--format', 'pdf', '--out', path.join(dir, 'x')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/'pdf' is invalid. Allowed choices are tfjs, onnx, web/);
  });
});
