// Defect: `average <run>/train/best <run>/train/last --out <run>/train --overwrite` deleted best/, last/
// and the history it was reading, then failed. Now average follows export's rule (src/run/overwrite.ts):
// a folder that is or contains a checkpoint being averaged, or the current folder, is never replaced,
// --overwrite or not; any other non-empty folder only with --overwrite; the average is written beside
// the target and swapped in whole.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, runCli, tempDir } from '../helpers.js';
import { expectOneLineError, tempFilesIn, trainedRun } from './fixtures.js';

describe.skipIf(!existsSync(BIN))('average --out never deletes its own inputs', () => {
  const root = tempDir('capgen-average-out-');

  it('refuses --out that holds a checkpoint being averaged (even with --overwrite), and a non-empty folder without --overwrite', async () => {
    const run = await trainedRun(path.join(root, 'run'));
    const train = path.join(run, 'train');
    const inputs = [path.join(train, 'best'), path.join(train, 'last')];
    const names = async () => (await fs.readdir(train)).sort();
    const before = { names: await names(), best: await fs.readFile(path.join(train, 'best', 'checkpoint.json'), 'utf8') };

    const cases: { out: string; cwd?: string; message: RegExp }[] = [
      { out: train, message: /--out .*train contains a checkpoint being averaged \(.*train\/best\): replacing it would delete it/ },
      { out: run, message: /contains a checkpoint being averaged/ },
      { out: path.join(train, 'last'), message: /--out .*last is a checkpoint being averaged/ },
      { out: '.', cwd: train, message: /--out \. contains a checkpoint being averaged/ },
    ];
    for (const c of cases)
      expectOneLineError(await runCli(['average', ...inputs, '--out', c.out, '--overwrite'], { cwd: c.cwd }), c.message);
    expectOneLineError(await runCli(['average', ...inputs, '--out', train]), cases[0].message);
    expect(await names()).toEqual(before.names);
    expect(await fs.readFile(path.join(train, 'best', 'checkpoint.json'), 'utf8')).toBe(before.best);

    const mine = path.join(root, 'mine');
    await fs.mkdir(mine);
    await fs.writeFile(path.join(mine, 'notes.txt'), 'mine');
    expectOneLineError(
      await runCli(['average', ...inputs, '--out', mine]),
      /--out .*mine is not empty \(add --overwrite to replace all of it/,
    );
    expect(await fs.readFile(path.join(mine, 'notes.txt'), 'utf8')).toBe('mine');

    // An empty folder is taken; a non-empty one with --overwrite is replaced whole.
    const empty = path.join(root, 'empty');
    await fs.mkdir(empty);
    const intoEmpty = await runCli(['average', ...inputs, '--out', empty]);
    expect(intoEmpty.code, intoEmpty.stderr).toBe(0);
    expect(existsSync(path.join(empty, 'checkpoint.json'))).toBe(true);
    const replaced = await runCli(['average', ...inputs, '--out', mine, '--overwrite']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(existsSync(path.join(mine, 'notes.txt'))).toBe(false);
    const caption = await runCli(['caption', '--checkpoint', mine, path.join(run, 'dataset', 'Images')]);
    expect(caption.code, caption.stderr).toBe(0);
    expect(await tempFilesIn(root)).toEqual([]);
  }, 180_000);
});
