// After `capgen demo`: its report ends with the next commands to run on the demo's run folder, and
// caption/serve run without --run (the default artifacts/ holds no model) say where the demo's model is.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDemoReport, nextCommands } from '../../src/demo/report.js';
import type { DemoResult } from '../../src/demo/run.js';
import { runCli, tempDir } from '../helpers.js';

const result: DemoResult = {
  runDir: 'artifacts/demo',
  datasetDir: 'artifacts/demo/dataset',
  metrics: { bleu4: 0.5 },
  samples: [{ image: 'scene_0001.png', generated: 'a red circle', references: ['a red circle'] }],
  stageSeconds: { prepare: 1, train: 2, eval: 3, caption: 4 },
  elapsedSeconds: 10,
  files: { report: 'artifacts/demo/eval/report.html' },
};

describe('after the demo', () => {
  it('the report ends with the next commands, each on the demo run folder', () => {
    const text = formatDemoReport(result);
    const tail = text.slice(text.lastIndexOf('next'));
    expect(tail).toContain('artifacts/demo/eval/report.html');
    for (const command of nextCommands(result)) expect(tail).toContain(command);
    expect(nextCommands(result)[0]).toBe('npx capgen caption artifacts/demo/dataset/Images/scene_0001.png --run artifacts/demo');
    for (const c of nextCommands(result)) expect(c).toMatch(/--run artifacts\/demo\b/);
    expect(nextCommands({ ...result, runDir: "my runs/it's" })[1]).toContain(`--run 'my runs/it'\\''s'`);
  });

  it('caption and serve without --run point at the demo model when only the demo trained one', async () => {
    const cwd = tempDir();
    const best = path.join(cwd, 'artifacts', 'demo', 'train', 'best');
    mkdirSync(best, { recursive: true });
    writeFileSync(path.join(best, 'checkpoint.json'), '{}');
    writeFileSync(path.join(cwd, 'photo.png'), '');
    for (const args of [
      ['caption', 'photo.png'],
      ['serve', '--port', '0'],
    ]) {
      const r = await runCli(args, { cwd });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/no checkpoint here/);
      expect(r.stderr).toContain('holds no trained model, but `capgen demo` left one in artifacts/demo: add --run artifacts/demo');
    }
    // Without a demo model the hint stays the general one.
    const elsewhere = tempDir();
    const r = await runCli(['caption', 'photo.png'], { cwd: elsewhere });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('train a model first');
  });
});
