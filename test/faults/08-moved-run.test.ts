// Defect 8: checkpoints stored the encoder's absolute path; after moving a run folder, `caption`
// said "give the path of a model.json" but had no option to take one. Now the encoder is recorded
// relative to the run folder when it lies inside it, found again by its weights hash, and
// `caption`/`serve` take --encoder PATH (checked against the recorded hash).
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PrepareRecord } from '../../src/run/formats.js';
import { writeTinyModel } from '../features/tiny-model.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { expectOneLineError, SCENES, SMALL_TRAIN } from './fixtures.js';

async function prepareAndTrain(run: string, modelJson: string): Promise<void> {
  const prepared = await runCli([
    'prepare',
    '--dataset',
    'synthetic',
    '--count',
    SCENES,
    '--seed',
    '1',
    '--out',
    run,
    '--encoder',
    modelJson,
    '--preprocess',
    'unit',
  ]);
  expect(prepared.code, prepared.stderr).toBe(0);
  const trained = await runCli(['train', '--run', run, '--epochs', '1', ...SMALL_TRAIN]);
  expect(trained.code, trained.stderr).toBe(0);
}

const caption = (run: string, extra: string[] = []) =>
  runCli(['caption', '--checkpoint', path.join(run, 'train', 'best'), path.join(run, 'dataset', 'Images', 'scene_00040.png'), ...extra]);

describe.skipIf(!existsSync(BIN))('run folders that move', () => {
  const root = tempDir('capgen-moved-');

  it('an encoder inside the run folder moves with it', async () => {
    const run = path.join(root, 'inside');
    const { modelJson } = await writeTinyModel(path.join(run, 'models', 'tiny'), { seed: 3, shards: 2 });
    await prepareAndTrain(run, modelJson);
    const record = JSON.parse(await fs.readFile(path.join(run, 'prepare.json'), 'utf8')) as PrepareRecord;
    expect(record.features?.encoder.sourceInRun).toBe('models/tiny/model.json');
    const moved = path.join(root, 'inside-moved');
    await fs.rename(run, moved);
    const r = await caption(moved);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/scene_00040\.png\t\w+/);
  }, 120_000);

  it('an encoder that moved elsewhere: a clear error pointing to --encoder; --encoder finds it; other weights are refused', async () => {
    const run = path.join(root, 'outside');
    const encoderDir = path.join(root, 'encoders', 'tiny');
    const { modelJson } = await writeTinyModel(encoderDir, { seed: 3, shards: 2 });
    await prepareAndTrain(run, modelJson);
    const movedEncoder = path.join(root, 'elsewhere', 'tiny');
    await fs.mkdir(path.dirname(movedEncoder), { recursive: true });
    await fs.rename(encoderDir, movedEncoder);

    expectOneLineError(
      await caption(run),
      /the encoder's model\.json is not where `capgen prepare` found it .*pass --encoder PATH\/model\.json \(its weights must have sha256 [0-9a-f]{12}/,
    );
    const given = await caption(run, ['--encoder', path.join(movedEncoder, 'model.json')]);
    expect(given.code, given.stderr).toBe(0);
    const { modelJson: other } = await writeTinyModel(path.join(root, 'other'), { seed: 4, shards: 2 });
    expectOneLineError(
      await caption(run, ['--encoder', other]),
      /other[/\\]model\.json: these are not the encoder weights the model was trained with/,
    );

    // A copy put anywhere inside the run folder is found by its weights hash.
    await fs.cp(movedEncoder, path.join(run, 'encoder-copy'), { recursive: true });
    const found = await caption(run);
    expect(found.code, found.stderr).toBe(0);
  }, 120_000);
});
