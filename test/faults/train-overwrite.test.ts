// `train --overwrite` used to remove the earlier training first and then fail on something it could
// have checked before (a decoder that needs spatial features on pooled ones, a backend that is not
// installed, --tensorboard on WASM, a missing feature cache), leaving the user with nothing. Now
// everything is validated before train/ is touched; the old training is moved aside and deleted
// only once the new one has saved a checkpoint, put back on any failure before that, and an
// overwrite killed in between is settled by the next `train`.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPLACED_TRAINING_DIR } from '../../src/run/overwrite.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { copyRun, expectOneLineError, SMALL_TRAIN, trainedRun } from './fixtures.js';

/** Every file below `dir` by relative path, with its bytes. */
async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    out.set(path.relative(dir, full), await fs.readFile(full));
  }
  return out;
}

async function expectSameFiles(dir: string, before: Map<string, Buffer>): Promise<void> {
  const after = await snapshot(dir);
  expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
  for (const [name, bytes] of before) expect(after.get(name)?.equals(bytes), name).toBe(true);
}

describe.skipIf(!existsSync(BIN))('train --overwrite keeps the earlier training until the new one has a checkpoint', () => {
  const root = tempDir('capgen-train-overwrite-');
  let trained: string;
  let n = 0;
  beforeAll(async () => {
    trained = await trainedRun(path.join(root, 'trained'));
  }, 120_000);

  const cases: { name: string; args: (run: string) => string[]; before?: (run: string) => Promise<void>; error: RegExp }[] = [
    {
      name: 'a decoder that needs spatial features, on pooled ones',
      args: () => ['--decoder', 'attention'],
      error: /attends over image regions, but the features are pooled vectors/,
    },
    { name: '--backend gpu, not installed', args: () => ['--backend', 'gpu'], error: /backend 'gpu' is not available/ },
    {
      name: '--tensorboard on WASM',
      args: () => ['--tensorboard', path.join(root, 'tb')],
      error: /--tensorboard needs the native TensorFlow backend/,
    },
    {
      name: 'the feature cache missing',
      args: () => [],
      before: (run) => fs.rm(path.join(run, 'features'), { recursive: true }),
      error: /the feature cache named by prepare\.json is missing/,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: exits 2 and leaves the old train/ byte-identical`, async () => {
      const run = await copyRun(trained, path.join(root, `case-${n++}`));
      await c.before?.(run);
      const before = await snapshot(path.join(run, 'train'));
      const r = await runCli(['train', '--run', run, '--overwrite', '--epochs', '1', ...SMALL_TRAIN, ...c.args(run)]);
      expectOneLineError(r, c.error);
      await expectSameFiles(path.join(run, 'train'), before);
      expect(existsSync(path.join(run, REPLACED_TRAINING_DIR))).toBe(false);
    }, 60_000);
  }

  it('a failure after training started, before its first checkpoint, puts the old train/ back', async () => {
    const run = await copyRun(trained, path.join(root, 'nan'));
    const before = await snapshot(path.join(run, 'train'));
    // A learning rate this large makes the loss NaN within the first batches.
    const r = await runCli([
      'train',
      '--run',
      run,
      '--overwrite',
      '--epochs',
      '1',
      ...SMALL_TRAIN,
      '--lr',
      '1e30',
      '--checkpoint-every',
      '0',
    ]);
    expectOneLineError(r, /training loss became (NaN|inf)/i);
    expect(r.stderr).toMatch(/the earlier training is back in/);
    await expectSameFiles(path.join(run, 'train'), before);
    expect(existsSync(path.join(run, REPLACED_TRAINING_DIR))).toBe(false);
  }, 60_000);

  it('an overwrite killed before the new training saved a checkpoint: the next train puts the old one back', async () => {
    const run = await copyRun(trained, path.join(root, 'killed-early'));
    const before = await snapshot(path.join(run, 'train'));
    // What kill -9 leaves: the old training aside, a new train/ with no checkpoint in it yet.
    await fs.rename(path.join(run, 'train'), path.join(run, REPLACED_TRAINING_DIR));
    await fs.mkdir(path.join(run, 'train'));
    const refused = await runCli(['train', '--run', run, '--epochs', '1', ...SMALL_TRAIN]);
    expectOneLineError(refused, /already holds a training/);
    expect(refused.stderr).toMatch(/putting the previous training back/);
    await expectSameFiles(path.join(run, 'train'), before);
    expect(existsSync(path.join(run, REPLACED_TRAINING_DIR))).toBe(false);
  }, 60_000);

  it('an overwrite killed after the new training saved a checkpoint: the next train deletes the old one', async () => {
    const run = await copyRun(trained, path.join(root, 'killed-late'));
    await fs.cp(path.join(run, 'train'), path.join(run, REPLACED_TRAINING_DIR), { recursive: true });
    const before = await snapshot(path.join(run, 'train'));
    const refused = await runCli(['train', '--run', run, '--epochs', '1', ...SMALL_TRAIN]);
    expectOneLineError(refused, /already holds a training/);
    await expectSameFiles(path.join(run, 'train'), before);
    expect(existsSync(path.join(run, REPLACED_TRAINING_DIR))).toBe(false);
  }, 60_000);

  it('a successful overwrite replaces the training and leaves nothing aside', async () => {
    const run = await copyRun(trained, path.join(root, 'ok'));
    const r = await runCli(['train', '--run', run, '--overwrite', '--epochs', '1', ...SMALL_TRAIN, '--seed', '2']);
    expect(r.code, r.stderr).toBe(0);
    const meta = JSON.parse(await fs.readFile(path.join(run, 'train', 'best', 'checkpoint.json'), 'utf8'));
    expect(meta.trainConfig.seed).toBe(2);
    expect(existsSync(path.join(run, REPLACED_TRAINING_DIR))).toBe(false);
  }, 60_000);
});
