// `prepare` again into a trained run with another split was accepted, and eval then scored the
// checkpoint on images it had trained on (exit 0); train --resume carried on with the new split.
// Now each checkpoint records its training images (train-images.txt, hashed in checkpoint.json):
// eval refuses a split that overlaps them, train --resume refuses a changed training split, and
// prepare warns that the run's checkpoint was trained on another split.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAverage } from '../../src/average/run.js';
import { readCheckpoint, saveCheckpoint } from '../../src/model/checkpoint.js';
import { initialWeights, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { DEFAULT_CLEANING } from '../../src/text/clean.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { encoderIdentity } from '../train/fixtures.js';
import { copyRun, expectOneLineError, prepareSynthetic, trainedRun } from './fixtures.js';

describe.skipIf(!existsSync(BIN))('a trained run prepared again with another split', () => {
  const root = tempDir('capgen-split-');

  it('prepare warns; eval and train --resume refuse with exit 2; the same split still evaluates', async () => {
    const base = await trainedRun(path.join(root, 'base'));
    const names = (await fs.readFile(path.join(base, 'train', 'best', 'train-images.txt'), 'utf8')).split('\n').filter(Boolean);
    expect(names.length).toBe(32);
    expect([...names].sort()).toEqual(names);

    const run = await copyRun(base, path.join(root, 'resplit'));
    const prepared = await prepareSynthetic(run, ['--split', '0.2,0.1,0.7']);
    expect(prepared.stderr).toMatch(/train\/best was trained on another training split \(32 images, now 8\)/);

    const evaluated = await runCli(['eval', '--run', run, '--split', 'test']);
    expectOneLineError(
      evaluated,
      /train\/best\/train-images\.txt: \d+ of the \d+ images of the test split were in this checkpoint's training split/,
    );
    expect(existsSync(path.join(run, 'eval'))).toBe(false);

    expectOneLineError(
      await runCli(['train', '--run', run, '--resume', '--epochs', '2']),
      /train\/last\/checkpoint\.json: the run's training split changed since this checkpoint was trained \(32 images then, 8 now\)/,
    );

    // Prepared again with its own split: no warning, and eval scores it.
    const same = await prepareSynthetic(run);
    expect(same.stderr).not.toMatch(/another training split/);
    const ok = await runCli(['eval', '--run', run, '--split', 'test']);
    expect(ok.code, ok.stderr).toBe(0);
  }, 240_000);
});

describe('the training images of an average', () => {
  it('are every image any of its checkpoints was trained on', async () => {
    const root = tempDir('capgen-split-avg-');
    const sizes: MergeLstmSizes = { vocabSize: 11, embeddingSize: 4, hiddenSize: 6, featureSize: 5, dropout: 0.5 };
    const meta = {
      architecture: 'merge-lstm',
      ...sizes,
      vocab: {
        tokens: ['<pad>', '<start>', '<end>', '<unk>', ...'abcdefg'.split('')],
        specials: { pad: 0, start: 1, end: 2, unk: 3 } as const,
        minCount: 1,
      },
      cleaning: DEFAULT_CLEANING,
      encoder: encoderIdentity(),
      maxCaptionLength: 9,
      trainConfig: {},
      epoch: 1,
      metrics: {},
      createdAt: 'now',
    };
    await saveCheckpoint(path.join(root, 'a'), { meta, weights: initialWeights(sizes, 1), trainImages: ['b.jpg', 'a.jpg'] });
    await saveCheckpoint(path.join(root, 'b'), { meta, weights: initialWeights(sizes, 2), trainImages: ['c.jpg', 'b.jpg'] });
    await runAverage({ checkpoints: [path.join(root, 'a'), path.join(root, 'b')], outDir: path.join(root, 'avg'), overwrite: false });
    const avg = await readCheckpoint(path.join(root, 'avg'), { trainImages: true });
    expect(avg.trainImages).toEqual(['a.jpg', 'b.jpg', 'c.jpg']);
    expect(avg.meta.trainSplit?.images).toBe(3);
  });
});
