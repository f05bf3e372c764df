// `capgen train` as a user runs it: the built CLI on a tiny prepared run with a real feature cache;
// Ctrl-C (SIGINT) saves a resumable checkpoint and exits 130, and --resume finishes the run.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, REPO_ROOT, runCli, tempDir } from '../helpers.js';
import { tinyRunWithCache } from './scst-fixture.js';

const SMALL = ['--embedding-size', '8', '--hidden-size', '16', '--batch-size', '4', '--lr', '0.01'];

describe('capgen train (CLI)', () => {
  it('trains, prints derived numbers and one line per epoch, writes checkpoints and history', async () => {
    const tiny = await tinyRunWithCache();
    const r = await runCli(['train', '--run', tiny.runDir, '--epochs', '2', ...SMALL, '--json']);
    expect(r.stderr).toMatch(/backend: WASM/);
    expect(r.stderr).toMatch(
      /train: decoder merge-lstm, 40 images, 90 training \/ 30 dev captions, vocabulary 13, features 16-d .* 23 steps per epoch/,
    );
    expect(r.stderr.match(/^epoch \d\/2: train loss [\d.]+ acc [\d.]+ \| val loss [\d.]+ acc [\d.]+/gm)).toHaveLength(2);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.epochs).toHaveLength(2);
    for (const f of ['best/checkpoint.json', 'best/weights.bin', 'last/optimizer.bin', 'history.json', 'history.csv', 'history.png'])
      expect(existsSync(path.join(tiny.runDir, 'train', f)), f).toBe(true);
    // history.csv: Keras CSVLogger's columns, epochs from 0, the same numbers as history.json.
    const csv = readFileSync(path.join(tiny.runDir, 'train', 'history.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toBe('epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds');
    expect(csv.slice(1).map((l) => l.split(',').slice(0, 5).map(Number))).toEqual(
      out.epochs.map((e: { epoch: number; trainLoss: number; trainAccuracy: number; valLoss: number; valAccuracy: number }) => [
        e.epoch - 1,
        e.trainLoss,
        e.trainAccuracy,
        e.valLoss,
        e.valAccuracy,
      ]),
    );
  }, 120_000);

  it('--accumulate N plans steps of N x --batch-size captions (and says so); --accumulate 0 is a usage error', async () => {
    const tiny = await tinyRunWithCache();
    const r = await runCli(['train', '--run', tiny.runDir, '--epochs', '1', ...SMALL, '--batch-size', '2', '--accumulate', '3']);
    expect(r.stderr).toMatch(/90 training .* 15 steps per epoch of 3 x 2/);
    expect(r.code).toBe(0);
    const bad = await runCli(['train', '--run', tiny.runDir, '--accumulate', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/accumulate/);
  }, 120_000);

  it('--tensorboard on WASM is a usage error saying why, before any training', async () => {
    const tiny = await tinyRunWithCache();
    const logs = path.join(tiny.runDir, 'tb');
    const r = await runCli(['train', '--run', tiny.runDir, '--epochs', '1', ...SMALL, '--tensorboard', logs]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--tensorboard needs the native TensorFlow backend \(tfjs-node or tfjs-node-gpu\).*this run is on wasm/);
    expect(r.stderr).not.toMatch(/^epoch 1/m);
    expect(existsSync(logs)).toBe(false);
    expect(existsSync(path.join(tiny.runDir, 'train', 'last'))).toBe(false);
  }, 60_000);

  it('Ctrl-C saves a resumable checkpoint; --resume completes the run', async () => {
    const tiny = await tinyRunWithCache();
    const child = spawn(process.execPath, [BIN, 'train', '--run', tiny.runDir, '--epochs', '200', ...SMALL], {
      cwd: REPO_ROOT,
      env: { ...process.env, CAPGEN_BACKEND: 'wasm' },
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/^epoch 1\/200:/m.test(stderr) && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    expect(stderr).toMatch(/stopping after this batch/);
    expect(code).toBe(130); // interrupted: `capgen train && capgen eval` must not go on
    const last = JSON.parse(readFileSync(path.join(tiny.runDir, 'train', 'last', 'checkpoint.json'), 'utf8'));
    const stoppedAt = last.trainState.epoch * 1000 + last.trainState.batch;
    expect(last.trainState.epoch).toBeGreaterThanOrEqual(1);
    const r = await runCli(['train', '--run', tiny.runDir, '--resume', '--epochs', String(last.trainState.epoch + 1)]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/resuming after epoch/);
    const after = JSON.parse(readFileSync(path.join(tiny.runDir, 'train', 'last', 'checkpoint.json'), 'utf8'));
    expect(after.trainState.epoch * 1000 + after.trainState.batch).toBeGreaterThan(stoppedAt);
    expect(after.epoch).toBe(last.trainState.epoch + 1);
  }, 120_000);

  it('a run folder without prepare.json is a one-line error with exit code 2', async () => {
    const r = await runCli(['train', '--run', tempDir()]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/prepare\.json: no prepare\.json in the run folder \(run `capgen prepare` first/);
  });
});
