// `capgen eval` and `capgen caption` give the same captions and scores as before the trained captioner
// was shared by caption, eval, serve and export: a fixed checkpoint (seeded weights, no training) over a
// prepared synthetic run, its outputs compared with test/fixtures/captioner-golden.json. That file was
// written by this test (CAPGEN_WRITE_GOLDEN=1) on the tree before the refactoring.
import { existsSync, promises as fs, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../../src/model/checkpoint.js';
import { initialWeights, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import type { PrepareRecord, VocabularyFile } from '../../src/run/formats.js';
import { REPO_ROOT, runCli, tempDir } from '../helpers.js';

const GOLDEN = path.join(REPO_ROOT, 'test', 'fixtures', 'captioner-golden.json');
const WRITE = process.env.CAPGEN_WRITE_GOLDEN === '1';

interface Golden {
  eval: Record<string, { captions: unknown; scores: unknown }>;
  caption: Record<string, string>;
}

describe('eval and caption outputs on a fixed checkpoint', () => {
  const runDir = path.join(tempDir('capgen-golden-'), 'run');
  let images: string[];
  const got: Golden = { eval: {}, caption: {} };

  beforeAll(async () => {
    const prepare = await runCli(
      [
        'prepare',
        '--dataset',
        'synthetic',
        '--count',
        '60',
        '--seed',
        '5',
        '--out',
        runDir,
        '--encoder',
        'seeded-cnn',
        '--min-count',
        '1',
        '--quiet',
      ],
      { env: { CAPGEN_BACKEND: 'wasm' } },
    );
    expect(prepare.code, prepare.stderr).toBe(0);
    const record = JSON.parse(await fs.readFile(path.join(runDir, 'prepare.json'), 'utf8')) as PrepareRecord;
    const vocab = JSON.parse(await fs.readFile(path.join(runDir, 'vocab.json'), 'utf8')) as VocabularyFile;
    const encoder = record.features!.encoder;
    const sizes: MergeLstmSizes = {
      vocabSize: vocab.tokens.length,
      embeddingSize: 16,
      hiddenSize: 24,
      featureSize: encoder.featureShape[0],
      dropout: 0,
    };
    // Seeded weights, scaled so that scenes get different captions of a few words.
    const weights = initialWeights(sizes, 7);
    weights['output.kernel'] = weights['output.kernel'].map((x) => x * 8);
    weights['image.kernel'] = weights['image.kernel'].map((x) => x * 20);
    weights['output.bias'][2] = 4; // the end token
    await saveCheckpoint(path.join(runDir, 'train', 'best'), {
      meta: {
        architecture: 'merge-lstm',
        ...sizes,
        vocab,
        cleaning: record.cleaning,
        encoder,
        maxCaptionLength: record.maxCaptionLength,
        trainConfig: {},
        epoch: 1,
        metrics: {},
        createdAt: 'golden',
      },
      weights,
    });
    const imagesDir = path.join(runDir, 'dataset', 'Images');
    images = (await fs.readdir(imagesDir))
      .sort()
      .slice(0, 8)
      .map((f) => path.join(imagesDir, f));
  }, 120_000);

  it.each([
    ['greedy', ['--beam-size', '1']],
    ['beam 3', ['--beam-size', '3']],
    ['beam 3, no length penalty, no blocking', ['--beam-size', '3', '--length-penalty', '0', '--block-ngrams', '0']],
  ])(
    'eval (%s)',
    async (name, flags) => {
      const out = path.join(runDir, `eval-${name.replace(/\W+/g, '-')}`);
      const r = await runCli(['eval', '--run', runDir, '--split', 'test', '--out', out, '--json', '--no-thumbnails', ...flags], {
        env: { CAPGEN_BACKEND: 'wasm' },
      });
      expect(r.code, r.stderr).toBe(0);
      const metrics = JSON.parse(r.stdout) as Record<string, unknown>;
      const predictions = readFileSync(path.join(out, 'predictions.jsonl'), 'utf8');
      // Timings and paths differ from run to run; the scores and captions must not.
      const kept = Object.fromEntries(
        Object.entries(metrics).filter(([k]) => !/seconds|elapsed|createdAt|capgenVersion|backend|engine/i.test(k)),
      );
      const scores = JSON.parse(JSON.stringify(kept).split(runDir).join('<run>')) as unknown;
      got.eval[name] = {
        captions: predictions
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as unknown),
        scores,
      };
    },
    120_000,
  );

  it.each([
    ['greedy', ['--beam-size', '1']],
    ['beam 3', ['--beam-size', '3']],
  ])(
    'caption (%s)',
    async (name, flags) => {
      const r = await runCli(['caption', '--run', runDir, ...flags, ...images], { env: { CAPGEN_BACKEND: 'wasm' } });
      expect(r.code, r.stderr).toBe(0);
      got.caption[name] = r.stdout.split(runDir).join('<run>');
    },
    120_000,
  );

  it('matches the outputs recorded before the refactoring', () => {
    if (WRITE) writeFileSync(GOLDEN, JSON.stringify(got, null, 2) + '\n');
    expect(existsSync(GOLDEN)).toBe(true);
    const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Golden;
    expect(got).toEqual(golden);
    // Not a degenerate recording: the fixed model tells scenes apart.
    const greedy = new Set(
      got.caption.greedy
        .trim()
        .split('\n')
        .map((l) => l.split('\t')[1]),
    );
    expect(greedy.size).toBeGreaterThan(1);
  });
});
