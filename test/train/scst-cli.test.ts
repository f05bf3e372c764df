// `capgen train --objective scst` as a user runs it, after a cross-entropy training of the tiny run:
// dev CIDEr-D rises over the checkpoint it fine-tunes, that training is kept in train-xe/, the
// checkpoints say what they were fine-tuned from; resume is bit-identical; bad input is one line, exit 2.
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';
import { tinyRunWithCache } from './scst-fixture.js';

const SMALL = ['--embedding-size', '8', '--hidden-size', '16', '--batch-size', '4'];
const SCST = ['--objective', 'scst', '--batch-size', '4', '--lr', '0.003', '--replicas', '1'];

async function crossEntropyRun() {
  const tiny = await tinyRunWithCache();
  const xe = await runCli(['train', '--run', tiny.runDir, '--epochs', '3', ...SMALL, '--lr', '0.01']);
  expect(xe.code, xe.stderr).toBe(0);
  return tiny;
}

const meta = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'checkpoint.json'), 'utf8'));

describe('capgen train --objective scst (CLI)', () => {
  it("fine-tunes the run's cross-entropy best (kept in train-xe): dev CIDEr-D rises over it; checkpoints record scst and their start", async () => {
    const tiny = await crossEntropyRun();
    const xeMeta = meta(path.join(tiny.runDir, 'train', 'best'));
    const r = await runCli(['train', '--run', tiny.runDir, ...SCST, '--epochs', '4', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const start = Number(/dev CIDEr-D of the checkpoint fine-tuned \(greedy\): ([\d.]+)/.exec(r.stderr)?.[1]);
    const out = JSON.parse(r.stdout);
    const dev = out.epochs.map((e: { devCiderD: number }) => e.devCiderD);
    expect(out.epochs.every((e: { meanReward: number }) => Number.isFinite(e.meanReward))).toBe(true);
    expect(Math.max(...dev)).toBeGreaterThan(start);
    expect(out.bestScore).toBe(Math.max(...dev));
    // The cross-entropy training is kept whole; the new checkpoints say what they fine-tuned.
    expect(meta(path.join(tiny.runDir, 'train-xe', 'best')).contentSha256).toBe(xeMeta.contentSha256);
    expect(existsSync(path.join(tiny.runDir, 'train-xe', 'last', 'optimizer.bin'))).toBe(true);
    const best = meta(path.join(tiny.runDir, 'train', 'best'));
    expect(best.trainConfig.objective).toBe('scst');
    expect(best.trainConfig.fineTunedFrom).toEqual({
      checkpoint: 'train-xe/best',
      epoch: xeMeta.epoch,
      contentSha256: xeMeta.contentSha256,
    });
    const history = JSON.parse(readFileSync(path.join(tiny.runDir, 'train', 'history.json'), 'utf8'));
    expect(history.epochs.map((e: { devCiderD: number }) => e.devCiderD)).toEqual(dev);
    // A second scst from the run's own best would replace train-xe: refused, nothing touched.
    const again = await runCli(['train', '--run', tiny.runDir, ...SCST, '--epochs', '1']);
    expect(again.code).toBe(2);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(meta(path.join(tiny.runDir, 'train', 'best')).contentSha256).toBe(best.contentSha256);
  }, 300_000);

  it('a self-critical training that fails before its first checkpoint puts the cross-entropy training back in train/', async () => {
    const tiny = await crossEntropyRun();
    const before = meta(path.join(tiny.runDir, 'train', 'best')).contentSha256;
    // A learning rate that makes the weights overflow: the loss turns non-finite within the first epoch.
    const r = await runCli(['train', '--run', tiny.runDir, ...SCST, '--lr', '1e30', '--epochs', '1']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/the cross-entropy training is back/);
    expect(meta(path.join(tiny.runDir, 'train', 'best')).contentSha256).toBe(before);
    expect(existsSync(path.join(tiny.runDir, 'train-xe'))).toBe(false);
  }, 300_000);

  it('--resume after --max-steps continues bit-identically (one thread)', async () => {
    const tiny = await crossEntropyRun();
    const copy = path.join(tempDir(), 'run');
    cpSync(tiny.runDir, copy, { recursive: true });
    const whole = await runCli(['train', '--run', tiny.runDir, ...SCST, '--epochs', '2']);
    expect(whole.code, whole.stderr).toBe(0);
    const first = await runCli(['train', '--run', copy, ...SCST, '--epochs', '2', '--max-steps', '11']);
    expect(first.code, first.stderr).toBe(0);
    const rest = await runCli(['train', '--run', copy, '--resume', '--epochs', '2', '--replicas', '1']);
    expect(rest.code, rest.stderr).toBe(0);
    for (const f of ['last/weights.bin', 'last/optimizer.bin', 'best/weights.bin'])
      expect(readFileSync(path.join(copy, 'train', f)).equals(readFileSync(path.join(tiny.runDir, 'train', f))), f).toBe(true);
    const rewards = (dir: string) =>
      JSON.parse(readFileSync(path.join(dir, 'train', 'history.json'), 'utf8')).epochs.map(
        (e: { meanReward: number; devCiderD: number }) => [e.meanReward, e.devCiderD],
      );
    expect(rewards(copy)).toEqual(rewards(tiny.runDir));
  }, 300_000);

  it('bad input: no trained checkpoint, --scst-samples 0, --init-from of another vocabulary: one line, exit 2, nothing written', async () => {
    const fresh = await tinyRunWithCache();
    const none = await runCli(['train', '--run', fresh.runDir, ...SCST]);
    expect(none.code).toBe(2);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    expect(none.stderr).toMatch(/--objective scst fine-tunes a trained checkpoint.*train.best holds none/);

    const zero = await runCli(['train', '--run', fresh.runDir, ...SCST, '--scst-samples', '0']);
    expect(zero.code).toBe(2);
    // The flag parser's one line (and its usual pointer to --help), no stack trace.
    expect(zero.stderr.trim().split('\n')[0]).toMatch(/--scst-samples.*'0'/);
    expect(zero.stderr).not.toMatch(/^\s+at /m);

    const trained = await crossEntropyRun();
    const xe = await runCli(['train', '--run', fresh.runDir, ...SMALL, '--init-from', path.join(trained.runDir, 'train', 'best')]);
    expect(xe.code).toBe(2);
    expect(xe.stderr.trim().split('\n')).toHaveLength(1);
    expect(xe.stderr).toMatch(/--init-from names the checkpoint that --objective scst fine-tunes/);
    // The fresh run with one more word in its vocabulary.
    const vocabFile = path.join(fresh.runDir, 'vocab.json');
    const vocab = JSON.parse(readFileSync(vocabFile, 'utf8'));
    vocab.tokens.push('zebra');
    writeFileSync(vocabFile, JSON.stringify(vocab));
    const other = await runCli(['train', '--run', fresh.runDir, ...SCST, '--init-from', path.join(trained.runDir, 'train', 'best')]);
    expect(other.code, other.stderr).toBe(2);
    expect(other.stderr.trim().split('\n')).toHaveLength(1);
    expect(other.stderr).toMatch(/another vocabulary/);
    expect(readdirSync(fresh.runDir)).not.toContain('train');
  }, 300_000);
});
