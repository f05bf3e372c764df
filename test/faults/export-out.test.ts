// Defect: `export --out DIR` deleted whatever DIR held, with exit 0: a file of the user's, a whole run
// folder (`--out <run>`), the checkpoint being exported (`--out <run>/train/best`); `--out .` ended in
// EBUSY with a stack trace and a full temp export left behind. Now a folder that is or contains what
// the export reads (the checkpoint, the encoder's model.json) or the current folder is never replaced,
// --overwrite or not; a non-empty folder that is not an earlier capgen export only with --overwrite;
// and the new export is written beside the target and swapped in whole, so a failed export leaves the
// old one as it was and no temp folder.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, runCli, tempDir } from '../helpers.js';
import { modelRuns } from './export-fixtures.js';
import { expectOneLineError, tempFilesIn, trainedRun } from './fixtures.js';

/** Every file below `dir` with its content, to show that nothing changed. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    files.set(path.relative(dir, file), (await fs.readFile(file)).toString('base64'));
  }
  return files;
}

describe.skipIf(!existsSync(BIN))('export --out never destroys what capgen did not make', () => {
  const root = tempDir('capgen-export-out-');
  let run: Promise<string> | undefined;
  const seededRun = () => (run ??= trainedRun(path.join(root, 'run')));

  it("refuses a folder holding the user's files unless --overwrite; replaces an earlier export without it", async () => {
    const runDir = await seededRun();
    const mine = path.join(root, 'mine');
    await fs.mkdir(mine);
    await fs.writeFile(path.join(mine, 'thesis.tex'), 'six years of work');
    const refused = await runCli(['export', '--run', runDir, '--format', 'tfjs', '--out', mine]);
    expectOneLineError(refused, /--out .*mine is not empty and not an earlier capgen export \(add --overwrite to replace all of it/);
    expect(await fs.readFile(path.join(mine, 'thesis.tex'), 'utf8')).toBe('six years of work');
    expect(await fs.readdir(root)).not.toContainEqual(expect.stringMatching(/\.tmp/));

    const file = path.join(root, 'notes.txt');
    await fs.writeFile(file, 'a file, not a folder');
    expectOneLineError(await runCli(['export', '--run', runDir, '--format', 'tfjs', '--out', file]), /notes\.txt is a file, not a folder/);
    expectOneLineError(
      await runCli(['export', '--run', runDir, '--format', 'tfjs', '--out', path.join(file, 'site')]),
      /notes\.txt\/site: a folder on this path is a file/,
    );
    expect(await fs.readFile(file, 'utf8')).toBe('a file, not a folder');

    // An empty folder, then an earlier export of another format: replaced without --overwrite.
    const site = path.join(root, 'site');
    await fs.mkdir(site);
    const first = await runCli(['export', '--run', runDir, '--format', 'web', '--out', site]);
    expect(first.code, first.stderr).toBe(0);
    const again = await runCli(['export', '--run', runDir, '--format', 'tfjs', '--out', site]);
    expect(again.code, again.stderr).toBe(0);
    expect(existsSync(path.join(site, 'capgen-model.json'))).toBe(true);
    expect(existsSync(path.join(site, 'index.html'))).toBe(false);

    const overwritten = await runCli(['export', '--run', runDir, '--format', 'tfjs', '--out', mine, '--overwrite']);
    expect(overwritten.code, overwritten.stderr).toBe(0);
    expect(existsSync(path.join(mine, 'thesis.tex'))).toBe(false);
    expect(existsSync(path.join(mine, 'capgen-model.json'))).toBe(true);
    expect(await tempFilesIn(root)).toEqual([]);
  }, 180_000);

  it('never replaces the run folder, the checkpoint, the current folder or a folder above them, even with --overwrite', async () => {
    const runDir = await seededRun();
    const before = await snapshot(runDir);
    const cases: { out: string; cwd?: string; message: RegExp }[] = [
      { out: runDir, message: /--out .*run contains the checkpoint being exported \(.*train\/best\): replacing it would delete it/ },
      { out: path.join(runDir, 'train', 'best'), message: /--out .*best is the checkpoint being exported: replacing it would delete it/ },
      { out: path.join(runDir, 'train'), message: /contains the checkpoint being exported/ },
      { out: root, message: /contains the checkpoint being exported/ },
      { out: '.', cwd: runDir, message: /--out \. contains the checkpoint being exported/ },
      { out: '..', cwd: path.join(runDir, 'train'), message: /--out \.\. contains the checkpoint being exported/ },
    ];
    // With --overwrite: the refusal is not the one for a folder capgen did not make.
    for (const c of cases) {
      expectOneLineError(
        await runCli(['export', '--run', runDir, '--format', 'web', '--out', c.out, '--overwrite'], { cwd: c.cwd }),
        c.message,
      );
    }
    expectOneLineError(await runCli(['export', '--run', runDir, '--format', 'web', '--out', runDir]), cases[0].message);
    // The current folder, even where it holds no input.
    const elsewhere = path.join(root, 'empty-cwd');
    await fs.mkdir(elsewhere);
    const cwd = await runCli(['export', '--run', runDir, '--format', 'tfjs', '--out', '.', '--overwrite'], { cwd: elsewhere });
    expectOneLineError(cwd, /--out \. is the current folder: replacing it would delete it/);
    expect(await snapshot(runDir)).toEqual(before);
    expect(await tempFilesIn(root)).toEqual([]);
  }, 180_000);

  it("never replaces the encoder's folder; an export that fails midway leaves the earlier export whole and no temp folder", async () => {
    const runDir = await modelRuns(root)({ decoder: 'merge', encoder: 'layers', pooling: 'avg' });
    const encoderDir = path.join(root, 'tiny-encoder');
    for (const overwrite of [[], ['--overwrite']]) {
      const r = await runCli(['export', '--run', runDir, '--format', 'tfjs', '--out', encoderDir, ...overwrite]);
      expectOneLineError(r, /--out .*tiny-encoder contains the encoder's model\.json/);
    }
    const site = path.join(root, 'layers-site');
    const first = await runCli(['export', '--run', runDir, '--format', 'web', '--out', site]);
    expect(first.code, first.stderr).toBe(0);
    const before = await snapshot(site);
    // The encoder's weights vanish: the export fails while writing, after its temp folder was made.
    const shard = path.join(encoderDir, 'group1-shard1of1.bin');
    await fs.rename(shard, `${shard}.away`);
    try {
      const failed = await runCli(['export', '--run', runDir, '--format', 'web', '--out', site]);
      expectOneLineError(failed, /weight shard 'group1-shard1of1\.bin' named by the model is missing/);
    } finally {
      await fs.rename(`${shard}.away`, shard);
    }
    expect(await snapshot(site)).toEqual(before);
    expect((await fs.readdir(root)).filter((n) => n.startsWith('.'))).toEqual([]);
  }, 180_000);
});
