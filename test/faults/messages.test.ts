// Messages that sent the user the wrong way: a run with best/ but no last/ was told "add --resume"
// by train and then "train a model first" by train --resume; eval on a run prepared with
// --split 1,0,0 suggested --split dev, which is empty too; a full disk while prepare generated the
// synthetic dataset named no file (or, when a render worker was still writing, failed with an internal
// ENOTEMPTY and left the temp folder behind).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, promises as fs, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, runCli, tempDir } from '../helpers.js';
import { copyRun, expectOneLineError, prepareSynthetic, SCENES, SMALL_TRAIN, tempFilesIn, trainedRun } from './fixtures.js';

describe.skipIf(!existsSync(BIN))('messages point the right way', () => {
  const root = tempDir('capgen-messages-');

  it('best/ without last/: train says --overwrite (not --resume), train --resume says what is missing', async () => {
    const base = await trainedRun(path.join(root, 'base'));
    const run = await copyRun(base, path.join(root, 'no-last'));
    await fs.rm(path.join(run, 'train', 'last'), { recursive: true });
    const again = await runCli(['train', '--run', run, '--epochs', '1', ...SMALL_TRAIN]);
    expectOneLineError(again, /already holds a training \(best, history\.json\) \(it has no train\/last to resume from: --overwrite/);
    expect(again.stderr).not.toMatch(/--resume/);
    const resumed = await runCli(['train', '--run', run, '--resume', '--epochs', '2']);
    expectOneLineError(resumed, /train\/last: nothing to resume: this run has train\/best but no train\/last .*--overwrite/);
    expect(resumed.stderr).not.toMatch(/train a model first/);
  }, 180_000);

  it('eval on a run without dev and test images suggests no empty split', async () => {
    const run = path.join(root, 'all-train');
    await prepareSynthetic(run, ['--split', '1,0,0']);
    const trained = await runCli(['train', '--run', run, '--epochs', '1', ...SMALL_TRAIN]);
    expect(trained.code, trained.stderr).toBe(0);
    for (const split of ['test', 'dev']) {
      const r = await runCli(['eval', '--run', run, '--split', split]);
      expectOneLineError(
        r,
        new RegExp(`the ${split} split of this run has no images \\(it has: train 40\\) \\(prepare the run again with a dev or test share`),
      );
      expect(r.stderr).not.toMatch(/use --split/);
    }
  }, 180_000);

  it('eval on an empty test split suggests dev when dev has images', async () => {
    const run = path.join(root, 'no-test');
    await prepareSynthetic(run, ['--split', '0.8,0.2,0']);
    const trained = await runCli(['train', '--run', run, '--epochs', '1', ...SMALL_TRAIN]);
    expect(trained.code, trained.stderr).toBe(0);
    expectOneLineError(
      await runCli(['eval', '--run', run, '--split', 'test']),
      /has no images \(it has: dev 8, train 32\) \(use --split dev/,
    );
  }, 180_000);
});

// A small tmpfs needs root (as CI runs); elsewhere this case is skipped with a note, as in 05-disk-full.
const CAN_MOUNT = process.getuid?.() === 0;
if (!CAN_MOUNT) process.stderr.write('note: test/faults/messages.test.ts: not root, so no tmpfs to fill: the disk-full case is skipped\n');

describe.skipIf(!existsSync(BIN) || !CAN_MOUNT)('a full disk while prepare writes the synthetic dataset', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'capgen-full-synth-'));
  const disk = path.join(root, 'disk');
  let mounted = false;
  afterAll(() => {
    if (mounted) execFileSync('umount', [disk]);
    rmSync(root, { recursive: true, force: true });
  });

  it('the error names the file being written', async () => {
    mkdirSync(disk);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', disk], { stdio: 'ignore' });
    mounted = true;
    const r = await runCli(['prepare', '--dataset', 'synthetic', '--count', SCENES, '--seed', '1', '--out', path.join(disk, 'run')]);
    // the file as it would have been published (the temp folder it was written in is gone)
    expectOneLineError(
      r,
      new RegExp(`capgen: error: ${path.join(disk, 'run', 'dataset')}/\\S+\\.(png|txt|json): no space left on the device \\(ENOSPC`),
    );
    // and gone it is: the render workers stop before it is removed (one still writing made that fail)
    expect(await tempFilesIn(disk)).toEqual([]);
  }, 60_000);
});
