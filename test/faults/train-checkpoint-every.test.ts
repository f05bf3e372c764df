// `kill -9` in the first epoch used to leave no train/ at all (checkpoints were saved at epoch ends
// and on Ctrl-C only): an OOM kill or a preempted VM lost the whole epoch. `--checkpoint-every
// MINUTES` now saves a resumable last/ within the epoch, the same save as a Ctrl-C at that batch,
// and `--resume` continues from the middle of the epoch to the weights of an uninterrupted run.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, runCli, tempDir } from '../helpers.js';
import { copyRun, prepareSynthetic, SMALL_TRAIN, startCli } from './fixtures.js';

/** Batches of 2 captions: 80 batches an epoch, so that a kill after the first timed save lands mid-epoch. */
const TRAIN = [...SMALL_TRAIN, '--batch-size', '2', '--epochs', '2'];

describe.skipIf(!existsSync(BIN))('train --checkpoint-every', () => {
  const root = tempDir('capgen-checkpoint-every-');

  it('kill -9 after a timed save mid-epoch, then --resume: weights bit-identical to an uninterrupted run', async () => {
    const prepared = path.join(root, 'prepared');
    await prepareSynthetic(prepared);
    const straight = await copyRun(prepared, path.join(root, 'straight'));
    const killed = await copyRun(prepared, path.join(root, 'killed'));

    // 0.0005 minutes = 30 ms: a save after nearly every batch.
    const running = startCli(['train', '--run', killed, ...TRAIN, '--checkpoint-every', '0.0005']);
    const saved = path.join(killed, 'train', 'last', 'checkpoint.json');
    const deadline = Date.now() + 60_000;
    let exited = false;
    void running.exit.then(() => (exited = true));
    while (!existsSync(saved) && !exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    running.child.kill('SIGKILL');
    const { signal } = await running.exit;
    expect(signal, running.stderr()).toBe('SIGKILL');

    const meta = JSON.parse(await fs.readFile(saved, 'utf8'));
    expect(meta.trainState.epoch).toBe(0); // killed in the first epoch...
    expect(meta.trainState.batch).toBeGreaterThan(0); // ...with batches of it saved
    expect(existsSync(path.join(killed, 'train', 'best'))).toBe(false);

    const resumed = await runCli(['train', '--run', killed, '--resume', '--epochs', '2']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming after epoch 0 batch \d+/);

    const uninterrupted = await runCli(['train', '--run', straight, ...TRAIN, '--checkpoint-every', '0']);
    expect(uninterrupted.code, uninterrupted.stderr).toBe(0);
    for (const dir of ['last', 'best']) {
      const a = await fs.readFile(path.join(straight, 'train', dir, 'weights.bin'));
      const b = await fs.readFile(path.join(killed, 'train', dir, 'weights.bin'));
      expect(b.equals(a), `${dir}/weights.bin`).toBe(true);
    }
    const a = await fs.readFile(path.join(straight, 'train', 'last', 'optimizer.bin'));
    const b = await fs.readFile(path.join(killed, 'train', 'last', 'optimizer.bin'));
    expect(b.equals(a), 'last/optimizer.bin').toBe(true);
  }, 180_000);

  it('rejects a negative interval', async () => {
    const r = await runCli(['train', '--run', path.join(root, 'none'), '--checkpoint-every', '-1']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--checkpoint-every <minutes>' argument '-1' is invalid/);
  });
});
