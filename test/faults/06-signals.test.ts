// Defect 6: Ctrl-C during `train` saved a checkpoint but exited 0 (so `capgen train && capgen eval`
// went on with a half-trained model), and SIGTERM (docker stop, schedulers) saved nothing. Now
// SIGINT and SIGTERM stop every long-running command at a safe point, save what can be resumed,
// and exit 130 / 143.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, runCli, tempDir } from '../helpers.js';
import { copyRun, prepareSynthetic, SMALL_TRAIN, startCli } from './fixtures.js';

describe.skipIf(!existsSync(BIN))('SIGINT and SIGTERM', () => {
  const root = tempDir('capgen-signals-');
  let prepared: string;

  it('train: SIGTERM saves a resumable checkpoint and exits 143; SIGINT during a resumed run exits 130', async () => {
    prepared = path.join(root, 'prepared');
    await prepareSynthetic(prepared);
    const run = await copyRun(prepared, path.join(root, 'term'));
    const term = startCli(['train', '--run', run, '--epochs', '100', ...SMALL_TRAIN]);
    await term.waitFor(/^epoch 1\/100:/m);
    term.child.kill('SIGTERM');
    expect((await term.exit).code, term.stderr()).toBe(143);
    expect(term.stderr()).toMatch(/capgen: interrupted by SIGTERM: train saved a resumable checkpoint/);
    const last = JSON.parse(await fs.readFile(path.join(run, 'train', 'last', 'checkpoint.json'), 'utf8'));
    expect(last.trainState.epoch).toBeGreaterThanOrEqual(1);

    const int = startCli(['train', '--run', run, '--resume', '--epochs', '100']);
    await int.waitFor(/resuming after epoch/);
    int.child.kill('SIGINT');
    expect((await int.exit).code, int.stderr()).toBe(130);
    expect(int.stderr()).toMatch(/interrupted by SIGINT: train saved a resumable checkpoint/);
  }, 120_000);

  it('prepare: SIGTERM during the features exits 143 with the batches done kept; running it again reuses them', async () => {
    const data = path.join(root, 'data');
    const made = await runCli([
      'prepare',
      '--dataset',
      'synthetic',
      '--count',
      '120',
      '--seed',
      '2',
      '--data',
      data,
      '--out',
      path.join(root, 'gen'),
      '--encoder',
      'none',
    ]);
    expect(made.code, made.stderr).toBe(0);
    const out = path.join(root, 'prep');
    const args = ['prepare', '--data', data, '--encoder', 'seeded-cnn', '--batch-size', '2', '--out', out];
    const p = startCli(args);
    await p.waitFor(/120 images to encode/);
    p.child.kill('SIGTERM');
    expect((await p.exit).code, p.stderr()).toBe(143);
    expect(p.stderr()).toMatch(/interrupted by SIGTERM: prepare stopped with \d+ image features cached/);
    expect(existsSync(path.join(out, 'prepare.json'))).toBe(false);
    const again = await runCli(args);
    expect(again.code, again.stderr).toBe(0);
    const reused = Number(/features: \d+ computed, (\d+) reused/.exec(again.stderr)?.[1]);
    expect(reused).toBeGreaterThan(0);
  }, 120_000);

  it('eval: SIGINT exits 130 and writes nothing', async () => {
    const run = await copyRun(prepared, path.join(root, 'eval'));
    const trained = await runCli(['train', '--run', run, '--epochs', '1', ...SMALL_TRAIN]);
    expect(trained.code, trained.stderr).toBe(0);
    // batch size 1: the stop is checked after every image
    const e = startCli(['eval', '--run', run, '--split', 'test', '--batch-size', '1', '--beam-size', '5']);
    await e.waitFor(/^backend: /m); // before decoding starts: the stop is noticed at the first batch
    e.child.kill('SIGINT');
    expect((await e.exit).code, e.stderr()).toBe(130);
    expect(existsSync(path.join(run, 'eval'))).toBe(false);
  }, 120_000);

  it('demo: SIGTERM reaches the running stage, which stops; the demo exits 143', async () => {
    const out = path.join(root, 'demo');
    const d = startCli(['demo', '--out', out, '--count', '40', '--epochs', '100']);
    await d.waitFor(/^epoch 1\/100:/m, 90_000);
    d.child.kill('SIGTERM');
    expect((await d.exit).code, d.stderr()).toBe(143);
    expect(d.stderr()).toMatch(/interrupted by SIGTERM: train saved a resumable checkpoint/);
    expect(d.stderr()).toMatch(/interrupted by SIGTERM: demo: `capgen train` stopped/);
    expect(existsSync(path.join(out, 'train', 'last', 'checkpoint.json'))).toBe(true);
  }, 120_000);
});
