// Defect 4: same-size damage in checkpoints went unnoticed: random bytes in last/weights.bin and
// --resume trained on with NaN loss (exit 0); best/weights.bin full of 0xFF and eval scored 0 (exit
// 0). Now checkpoint.json records a SHA-256 per binary file, checked on load (exit 2 naming the
// file), and training that reaches a non-finite loss stops with an error, keeping the last good
// checkpoint.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCacheWriter } from '../../src/features/cache.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { encoderIdentity, writeTinyRun } from '../train/fixtures.js';
import { copyRun, expectOneLineError, trainedRun } from './fixtures.js';

/** Overwrites `length` bytes in the middle of `file` with `fill` (the size stays the same). */
async function damage(file: string, fill: (i: number) => number, length = 64): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    const size = (await handle.stat()).size;
    await handle.write(Buffer.from(Array.from({ length }, (_, i) => fill(i))), 0, length, Math.floor(size / 2));
  } finally {
    await handle.close();
  }
}

/** A tiny run whose feature cache holds `values(image)` for each image (valid hashes). */
async function tinyRun(dir: string, values: (v: Float32Array) => Float32Array) {
  const tiny = writeTinyRun(dir, { imagesPerClass: 6 });
  const cacheDir = path.join(tiny.runDir, 'features', 'test');
  await fs.rm(cacheDir, { recursive: true, force: true });
  const writer = await openCacheWriter(cacheDir, { identity: encoderIdentity(), dtype: 'float32', dim: 16 });
  const names = [...tiny.features.keys()];
  const rows = new Float32Array(names.length * 16);
  names.forEach((n, i) => rows.set(values(tiny.features.get(n)!), i * 16));
  await writer.append(names, rows);
  await writer.close();
  return tiny;
}

describe.skipIf(!existsSync(BIN))('checkpoint integrity', () => {
  const root = tempDir('capgen-ckpt-');
  let base: string;

  it('checkpoint.json records the SHA-256 of weights.bin, optimizer.bin and train-images.txt', async () => {
    base = await trainedRun(path.join(root, 'base'));
    const last = JSON.parse(await fs.readFile(path.join(base, 'train', 'last', 'checkpoint.json'), 'utf8'));
    expect(Object.keys(last.sha256).sort()).toEqual(['optimizer.bin', 'train-images.txt', 'weights.bin']);
    expect(last.sha256['weights.bin']).toMatch(/^[0-9a-f]{64}$/);
  }, 120_000);

  it('random bytes in last/weights.bin: --resume exits 2 naming the file', async () => {
    const run = await copyRun(base, path.join(root, 'random'));
    await damage(path.join(run, 'train', 'last', 'weights.bin'), () => Math.floor(Math.random() * 256));
    expectOneLineError(
      await runCli(['train', '--run', run, '--resume', '--epochs', '2']),
      /train\/last\/weights\.bin: checkpoint file is damaged: its SHA-256 is/,
    );
  }, 120_000);

  it('best/weights.bin filled with 0xFF: eval and caption exit 2 naming the file; nothing is written', async () => {
    const run = await copyRun(base, path.join(root, 'ff'));
    await damage(path.join(run, 'train', 'best', 'weights.bin'), () => 0xff, 4096);
    expectOneLineError(await runCli(['eval', '--run', run, '--split', 'test']), /train\/best\/weights\.bin: checkpoint file is damaged/);
    expect(existsSync(path.join(run, 'eval'))).toBe(false);
    const image = path.join(run, 'dataset', 'Images', 'scene_00040.png');
    expectOneLineError(
      await runCli(['caption', '--checkpoint', path.join(run, 'train', 'best'), image]),
      /best\/weights\.bin: checkpoint file is damaged/,
    );
  }, 120_000);

  it('a checkpoint without the hashes (an older capgen, or the field removed) is refused with a hint', async () => {
    const run = await copyRun(base, path.join(root, 'old'));
    const file = path.join(run, 'train', 'best', 'checkpoint.json');
    const { sha256: _dropped, ...meta } = JSON.parse(await fs.readFile(file, 'utf8'));
    await fs.writeFile(file, JSON.stringify(meta));
    const r = await runCli(['eval', '--run', run, '--split', 'test', '--out', path.join(root, 'old-eval')]);
    expectOneLineError(r, /train\/best\/checkpoint\.json: checkpoint\.json has no sha256 field \(.*older capgen.*retrain/);
    expect(existsSync(path.join(root, 'old-eval'))).toBe(false);
  }, 120_000);

  it('a non-finite loss stops training with exit 2 and leaves the last good checkpoint as it was', async () => {
    const small = ['--embedding-size', '8', '--hidden-size', '16', '--batch-size', '4', '--replicas', '1'];
    const good = await tinyRun(path.join(root, 'tiny'), (v) => v);
    const first = await runCli(['train', '--run', good.runDir, '--epochs', '1', ...small]);
    expect(first.code, first.stderr).toBe(0);
    const lastFile = path.join(good.runDir, 'train', 'last', 'checkpoint.json');
    const before = await fs.readFile(lastFile, 'utf8');
    // The same run, its features now NaN (a cache written that way hashes fine): the loss is NaN.
    const bad = await tinyRun(path.join(root, 'tiny-nan'), (v) => v.map(() => NaN));
    await fs.cp(path.join(good.runDir, 'train'), path.join(bad.runDir, 'train'), { recursive: true });
    const r = await runCli(['train', '--run', bad.runDir, '--resume', '--epochs', '2']);
    expectOneLineError(r, /training loss became NaN at epoch 2 batch 1: training stopped, the checkpoints on disk are from before it/);
    expect(await fs.readFile(path.join(bad.runDir, 'train', 'last', 'checkpoint.json'), 'utf8')).toBe(before);
  }, 120_000);
});
