// Defect 9: `train` into a run that already had `train/` silently replaced best/, last/ and the
// history. Now it refuses (exit 2) unless --resume (continue) or --overwrite (start again: the old
// training is moved aside once all is checked and deleted once the new one has a checkpoint, so none of it is
// mistaken for the new one's; test/faults/train-overwrite.test.ts covers the failures in between).
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, runCli, tempDir } from '../helpers.js';
import { expectOneLineError, SMALL_TRAIN, trainedRun } from './fixtures.js';

describe.skipIf(!existsSync(BIN))('train into a run that was trained', () => {
  const root = tempDir('capgen-overwrite-');

  it('refuses without --resume or --overwrite, leaving the training untouched; --overwrite starts again', async () => {
    const run = await trainedRun(path.join(root, 'run'));
    const best = path.join(run, 'train', 'best', 'checkpoint.json');
    const before = await fs.readFile(best, 'utf8');
    const history = await fs.readFile(path.join(run, 'train', 'history.json'), 'utf8');

    const refused = await runCli(['train', '--run', run, '--epochs', '1', ...SMALL_TRAIN, '--seed', '2']);
    expectOneLineError(
      refused,
      /train: this run folder already holds a training \(best, last, history\.json\) \(add --resume to continue it, --overwrite to replace it/,
    );
    expect(await fs.readFile(best, 'utf8')).toBe(before);
    expect(await fs.readFile(path.join(run, 'train', 'history.json'), 'utf8')).toBe(history);

    const replaced = await runCli(['train', '--run', run, '--overwrite', '--epochs', '1', ...SMALL_TRAIN, '--seed', '2']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stderr).toMatch(/--overwrite: removing the earlier training/);
    const after = JSON.parse(await fs.readFile(best, 'utf8'));
    expect(after.trainConfig.seed).toBe(2);
    expect(JSON.parse(await fs.readFile(path.join(run, 'train', 'history.json'), 'utf8')).epochs).toHaveLength(1);
  }, 120_000);
});
