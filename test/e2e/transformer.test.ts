// The Transformer decoder end to end through the built CLI: prepare spatial features of the synthetic
// dataset (seeded-cnn, --pooling none: a 4x4 grid of cells), train --decoder transformer, eval on the
// test split, caption from the pixels. The model must LOOK at the image: its test BLEU-4 must beat the
// best constant caption (the training caption that scores highest on the test references themselves)
// by a clear margin, as the merge decoder must in pipeline.test.ts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';
import { bestConstantCaption, readCaptions } from './constant-caption.js';

// The merge decoder's e2e dataset (400 scenes, seed 3). Sized for ~2 s per epoch on the ONNX engine:
// measured test BLEU-4 0.50 after 12 epochs against 0.41 for the best constant caption.
const COUNT = 400;
const EPOCHS = 14;
const TRAIN_FLAGS = ['--batch-size', '16', '--width', '64', '--heads', '4', '--layers', '2', '--lr', '2e-3', '--patience', '20'];
/** BLEU-4 (0..1) by which the model must beat the best constant caption (see pipeline.test.ts). */
const MARGIN = 0.05;

describe('transformer decoder on the synthetic dataset (built CLI)', () => {
  const root = tempDir('capgen-e2e-transformer-');
  const runDir = path.join(root, 'run');
  let bleu4 = 0;
  let trainLog = '';

  beforeAll(async () => {
    const prepared = await runCli([
      'prepare',
      '--dataset',
      'synthetic',
      '--count',
      String(COUNT),
      '--seed',
      '3',
      '--out',
      runDir,
      '--encoder',
      'seeded-cnn',
      '--pooling',
      'none',
    ]);
    expect(prepared.code, prepared.stderr).toBe(0);
    const trained = await runCli(
      ['train', '--run', runDir, '--decoder', 'transformer', '--epochs', String(EPOCHS), '--seed', '1', ...TRAIN_FLAGS],
      { timeoutMs: 600_000 },
    );
    expect(trained.code, trained.stderr).toBe(0);
    trainLog = trained.stderr;
    const evaluated = await runCli(['eval', '--run', runDir, '--split', 'test', '--json', '--no-thumbnails']);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    bleu4 = (JSON.parse(evaluated.stdout) as { metrics: { bleu4: number } }).metrics.bleu4;
  }, 900_000);

  it('trains on the 4x4 grid with its own defaults where no flag is given (warm-up of one epoch, dropout 0.1)', () => {
    expect(trainLog).toMatch(
      /decoder transformer, .*features 4x4x76 \(seeded-cnn, held as float16\), 100 steps per epoch of 16, lr 0\.002 after 100 warm-up steps, dropout 0\.1/,
    );
  });

  it('beats the best constant caption by a clear BLEU-4 margin (the model uses the image)', () => {
    const baseline = bestConstantCaption(readCaptions(runDir)).bleu4;
    process.stderr.write(`e2e transformer: test BLEU-4 model ${bleu4.toFixed(4)} vs best constant caption ${baseline.toFixed(4)}\n`);
    expect(bleu4).toBeGreaterThan(baseline + MARGIN);
  });

  it('caption rebuilds the transformer and the spatial encoder from the checkpoint: the captions eval decoded', async () => {
    const evalPredictions = new Map(
      readFileSync(path.join(runDir, 'eval', 'predictions.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { image: string; caption: string })
        .map((p) => [p.image, p.caption]),
    );
    const images = [...evalPredictions.keys()].slice(0, 3);
    const captioned = await runCli([
      'caption',
      '--checkpoint',
      path.join(runDir, 'train', 'best'),
      ...images.map((n) => path.join(runDir, 'dataset', 'Images', n)),
      '--json',
    ]);
    expect(captioned.code, captioned.stderr).toBe(0);
    const out = JSON.parse(captioned.stdout) as { captions: { image: string; caption: string }[] };
    expect(out.captions.map((c) => [path.basename(c.image), c.caption])).toEqual(images.map((n) => [n, evalPredictions.get(n)]));
  });
});
