// The attention decoder end to end through the built CLI: prepare the synthetic dataset with
// spatial features (--pooling none: the seeded CNN's 4x4 map of cells), train --decoder attention,
// eval from the checkpoint alone, and check that the model looks at the image: its test BLEU-4
// beats the best constant caption (test/e2e/constant-caption.ts) by a clear margin.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { runCli, tempDir } from '../helpers.js';
import { bestConstantCaption, readCaptions } from './constant-caption.js';

// The merge pipeline's data and schedule (pipeline.test.ts): measured test BLEU-4 0.51-0.53 against 0.41
// for the best constant caption. The whole file takes 58 s on 2 cores at a load of 5-7 (152 s at a
// load of 23); the first epoch compiles one ONNX graph per caption length, the others are short. Cutting the captions (--max-length) would mean fewer graphs,
// but it lifts the constant caption's score more than the model's.
const COUNT = 400;
const EPOCHS = 15;
const TRAIN_FLAGS = [
  '--batch-size',
  '16',
  '--embedding-size',
  '64',
  '--hidden-size',
  '128',
  '--attention-size',
  '64',
  '--projection-size',
  '64',
  '--dropout',
  '0.2',
  '--lr',
  '3e-3',
  '--patience',
  '20',
];
/** As in pipeline.test.ts: an image-blind model lands at or below the constant caption. */
const MARGIN = 0.05;

interface EvalJson {
  images: number;
  metrics: { bleu4: number };
}

describe.skipIf(SKIP_ORT)('capgen attention decoder on synthetic spatial features (built CLI)', () => {
  const root = tempDir('capgen-e2e-attention-');
  const runDir = path.join(root, 'run');
  let model: EvalJson;

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
      ['train', '--run', runDir, '--decoder', 'attention', '--engine', 'onnx', '--epochs', String(EPOCHS), '--seed', '1', ...TRAIN_FLAGS],
      { timeoutMs: 600_000 },
    );
    expect(trained.code, trained.stderr).toBe(0);
    expect(trained.stderr).toContain('decoder attention-lstm');
    expect(trained.stderr).toContain('features 4x4x76');
    const evaluated = await runCli(['eval', '--run', runDir, '--split', 'test', '--json', '--no-thumbnails']);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    model = JSON.parse(evaluated.stdout) as EvalJson;
  }, 900_000);

  it('the checkpoint records the architecture and its sizes', () => {
    const meta = JSON.parse(readFileSync(path.join(runDir, 'train', 'best', 'checkpoint.json'), 'utf8')) as Record<string, unknown>;
    expect(meta).toMatchObject({
      architecture: 'attention-lstm',
      mapHeight: 4,
      mapWidth: 4,
      channels: 76,
      projectionSize: 64,
      hiddenSize: 128,
      attentionPenalty: 1,
    });
  });

  it('beats the best constant caption by a clear BLEU-4 margin (the model uses the image)', async () => {
    const baseline = bestConstantCaption(readCaptions(runDir));
    const predictionsFile = path.join(root, 'constant.jsonl');
    writeFileSync(predictionsFile, baseline.images.map((image) => JSON.stringify({ image, caption: baseline.caption })).join('\n'));
    const scored = await runCli([
      'eval',
      '--run',
      runDir,
      '--split',
      'test',
      '--predictions',
      predictionsFile,
      '--out',
      path.join(root, 'baseline'),
      '--json',
      '--no-thumbnails',
    ]);
    expect(scored.code, scored.stderr).toBe(0);
    const baselineBleu4 = (JSON.parse(scored.stdout) as EvalJson).metrics.bleu4;
    process.stderr.write(
      `e2e attention: test BLEU-4 model ${model.metrics.bleu4.toFixed(4)} vs best constant caption ${baselineBleu4.toFixed(4)} ("${baseline.caption}")\n`,
    );
    expect(model.images).toBe(COUNT / 10);
    expect(model.metrics.bleu4).toBeGreaterThan(baselineBleu4 + MARGIN);
  });
});
