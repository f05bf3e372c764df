// `capgen average`: one checkpoint whose weights are the mean of several checkpoints of the same model
// (as fairseq's average_checkpoints.py): the weights of a run's last epochs, averaged, usually caption
// better than any one of them. Reads and writes checkpoint folders only.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { CapgenError } from '../errors.js';
import { readCheckpoint, saveCheckpoint, type CheckpointMeta } from '../model/checkpoint.js';
import type { Weights } from '../model/decoder.js';
import { guardOutputFolder } from '../run/overwrite.js';
import { keptEpochsDir } from '../run/layout.js';

export interface AverageConfig {
  /** Checkpoint folders (two or more) of one architecture, sizes, vocabulary, cleaning and encoder. */
  checkpoints: string[];
  /** The averaged checkpoint's folder. */
  outDir: string;
  /** Replace outDir when it is not empty (without it, average refuses); never one holding a checkpoint averaged. */
  overwrite: boolean;
}

/** The epochs `train --keep-epochs` kept in a run folder, oldest first (by number: epoch-1000 after epoch-999). */
export async function keptEpochCheckpoints(runDir: string): Promise<string[]> {
  const dir = keptEpochsDir(runDir);
  const names = existsSync(dir) ? (await fs.readdir(dir)).filter((n) => /^epoch-\d+$/.test(n)) : [];
  if (names.length === 0)
    throw new CapgenError('USAGE', `${dir} holds no kept epochs to average`, {
      file: dir,
      hint: `train with --keep-epochs N (e.g. 5), or name the checkpoint folders to average`,
    });
  return names.sort((a, b) => Number(a.slice(6)) - Number(b.slice(6))).map((n) => path.join(dir, n));
}

export interface AverageResult {
  outDir: string;
  sources: { dir: string; epoch: number }[];
  weights: number;
}

/** What must be equal for an average to be the same model: everything but the weights and training records. */
function identity(meta: CheckpointMeta): string {
  const { architecture, vocab, cleaning, encoder, maxCaptionLength, weights } = meta;
  return JSON.stringify({ architecture, vocab, cleaning, encoder, maxCaptionLength, weights: weights.map((w) => [w.name, w.shape]) });
}

export async function runAverage(config: AverageConfig): Promise<AverageResult> {
  if (config.checkpoints.length < 2)
    throw new CapgenError('USAGE', `average needs two or more checkpoints, got ${config.checkpoints.length}`);
  const out = path.resolve(config.outDir);
  // No earlierOutput: a checkpoint in the way may be a trained model; only --overwrite replaces it.
  await guardOutputFolder({
    dir: config.outDir,
    flag: '--out',
    inputs: config.checkpoints.map((c) => ({ path: c, what: 'a checkpoint being averaged' })),
    overwrite: config.overwrite,
  });

  const first = await readCheckpoint(config.checkpoints[0], { trainImages: true });
  // The average has seen every image any of its sources was trained on.
  let trainImages = first.trainImages && new Set(first.trainImages);
  const key = identity(first.meta);
  // Sums in float64: the mean of a few float32 arrays, then rounded once.
  const sums = new Map<string, Float64Array>();
  const add = (w: Weights) => {
    for (const [name, values] of Object.entries(w)) {
      let s = sums.get(name);
      if (!s) sums.set(name, (s = new Float64Array(values.length)));
      for (let i = 0; i < values.length; i++) s[i] += values[i];
    }
  };
  add(first.weights);
  const sources = [{ dir: config.checkpoints[0], epoch: first.meta.epoch }];
  for (const dir of config.checkpoints.slice(1)) {
    const c = await readCheckpoint(dir, { trainImages: true });
    if (identity(c.meta) !== key)
      throw new CapgenError(
        'MISMATCH',
        `not the same model as ${config.checkpoints[0]} (architecture, sizes, vocabulary, cleaning or encoder differ)`,
        {
          file: path.join(dir, 'checkpoint.json'),
          hint: 'average checkpoints of one training run',
        },
      );
    add(c.weights);
    if (c.trainImages) for (const image of c.trainImages) trainImages?.add(image);
    else trainImages = undefined; // a source that does not say: the average cannot either
    sources.push({ dir, epoch: c.meta.epoch });
  }
  const n = config.checkpoints.length;
  const weights: Weights = {};
  for (const [name, s] of sums) weights[name] = Float32Array.from(s, (x) => x / n);

  const {
    weights: _layout,
    format: _format,
    trainState: _state,
    sha256: _hashes,
    contentSha256: _content,
    trainSplit: _split,
    ...meta
  } = first.meta;
  await saveCheckpoint(out, {
    meta: {
      ...meta,
      epoch: Math.max(...sources.map((s) => s.epoch)),
      metrics: {}, // no validation loss was measured for the average
      createdAt: new Date().toISOString(),
      averagedFrom: sources.map((s) => ({ checkpoint: path.resolve(s.dir), epoch: s.epoch })),
    },
    weights,
    ...(trainImages ? { trainImages } : {}),
  });
  return { outDir: out, sources, weights: [...sums.values()].reduce((a, s) => a + s.length, 0) };
}
