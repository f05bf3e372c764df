// `prepare` again into a trained run with another split was accepted, and eval then scored the
// checkpoint on images it had trained on (exit 0); train --resume carried on with the new split.
// Now each checkpoint records its training images (train-images.txt, hashed in checkpoint.json):
// eval refuses a split that overlaps them, train --resume refuses a changed training split, and
// prepare warns that the run's checkpoint was trained on another split.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, runCli, tempDir } from '../helpers.js';
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
