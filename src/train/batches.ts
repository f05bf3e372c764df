// Streaming batches for teacher forcing: captions bucketed by length (little padding), shuffled with
// a seed per epoch, materialised one batch at a time (src/train/replicas.ts, per step) from the feature
// matrix and token ids: nothing per epoch is held in memory but the plan of indices.
import * as tf from '@tensorflow/tfjs';
import { SPECIAL_IDS } from '../run/formats.js';
import { mixSeed, mulberry32 } from '../util/random.js';
import type { SequenceBatch } from '../model/merge-lstm.js';
import type { Example } from './data.js';
import { dropoutMasks, type ShardDropout } from './dropout.js';

/** Indices into the example list, one array per batch, in training order. Same seed+epoch, same plan. */
export function planEpoch(examples: Example[], opts: { batchSize: number; seed: number; epoch: number; shuffle: boolean }): number[][] {
  const order = examples.map((_, i) => i);
  const rand = mulberry32(mixSeed(opts.seed, opts.epoch));
  if (opts.shuffle) shuffleInPlace(order, rand);
  // Stable sort by length after the shuffle: batches of one length, random within it.
  order.sort((a, b) => examples[a].ids.length - examples[b].ids.length);
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += opts.batchSize) batches.push(order.slice(i, i + opts.batchSize));
  if (opts.shuffle) shuffleInPlace(batches, rand);
  return batches;
}

function shuffleInPlace<T>(a: T[], rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
}

/** A batch as plain arrays (see SequenceBatch for the layout). */
export interface HostBatch {
  batchSize: number;
  timeSteps: number;
  features: Float32Array; // [B, D]
  inputs: Int32Array; // [T, B]
  rows: Int32Array; // [N]
  rowCaption: Int32Array; // [N]
  targets: Int32Array; // [N]
  /** Training only (dropout > 0): [B, D] and [T*B, E] inverted-dropout masks. */
  featureMask?: Float32Array;
  embeddingMask?: Float32Array;
}

export interface BuildOptions {
  /** Empty time steps added at the end (tests use it to show that padding changes nothing). */
  extraPadding?: number;
  /** Training: draw dropout masks; firstCaption = position of picks[0] in the whole batch (replica shards). */
  dropout?: ShardDropout;
}

/** Inputs [start, w1..wn], targets [w1..wn, end] for each caption, plus dropout masks when training. */
export function buildBatch(examples: Example[], picks: number[], features: Float32Array, featureSize: number, opts: BuildOptions = {}): HostBatch {
  const extraPadding = opts.extraPadding ?? 0;
  const batchSize = picks.length;
  let longest = 0;
  for (const p of picks) longest = Math.max(longest, examples[p].ids.length);
  const timeSteps = longest + 1 + extraPadding;
  const feats = new Float32Array(batchSize * featureSize);
  const inputs = new Int32Array(timeSteps * batchSize); // zeros = padding
  let scored = 0;
  for (const p of picks) scored += examples[p].ids.length + 1;
  const rows = new Int32Array(scored);
  const rowCaption = new Int32Array(scored);
  const targets = new Int32Array(scored);
  let k = 0;
  // Time-major rows, so the gathered logits follow the order of time steps.
  for (let t = 0; t < timeSteps; t++) {
    for (let b = 0; b < batchSize; b++) {
      const ids = examples[picks[b]].ids;
      if (t > ids.length) continue;
      inputs[t * batchSize + b] = t === 0 ? SPECIAL_IDS.start : ids[t - 1];
      rows[k] = t * batchSize + b;
      rowCaption[k] = b;
      targets[k] = t < ids.length ? ids[t] : SPECIAL_IDS.end;
      k++;
    }
  }
  picks.forEach((p, b) => feats.set(features.subarray(examples[p].imageRow * featureSize, (examples[p].imageRow + 1) * featureSize), b * featureSize));
  const batch: HostBatch = { batchSize, timeSteps, features: feats, inputs, rows, rowCaption, targets };
  if (opts.dropout) addDropoutMasks(batch, opts.dropout);
  return batch;
}

/** Draws the batch's dropout masks (nothing when the rate is 0); gradient replicas draw their shard's own. */
export function addDropoutMasks(batch: HostBatch, spec: ShardDropout): void {
  if (spec.rate <= 0) return;
  const featureSize = batch.features.length / batch.batchSize;
  const masks = dropoutMasks(spec, { firstCaption: spec.firstCaption ?? 0, batchSize: batch.batchSize, timeSteps: batch.timeSteps, featureSize });
  batch.featureMask = masks.features;
  batch.embeddingMask = masks.embeddings;
}

export interface DeviceBatch extends SequenceBatch {
  /** [N] target word ids (the loss is computed on the host). */
  targetIds: Int32Array;
  /** Scored positions (tokens incl. end). */
  count: number;
}

export function toTensors(b: HostBatch): DeviceBatch {
  const featureSize = b.features.length / b.batchSize;
  return {
    features: tf.tensor2d(b.features, [b.batchSize, featureSize]),
    featureMask: b.featureMask && tf.tensor2d(b.featureMask, [b.batchSize, featureSize]),
    embeddingMask: b.embeddingMask && tf.tensor2d(b.embeddingMask, [b.timeSteps * b.batchSize, b.embeddingMask.length / (b.timeSteps * b.batchSize)]),
    inputs: tf.tensor2d(b.inputs, [b.timeSteps, b.batchSize], 'int32'),
    rows: tf.tensor1d(b.rows, 'int32'),
    rowCaption: tf.tensor1d(b.rowCaption, 'int32'),
    targetIds: b.targets,
    count: b.targets.length,
  };
}

export function disposeBatch(b: DeviceBatch): void {
  tf.dispose([b.features, b.inputs, b.rows, b.rowCaption]);
  if (b.featureMask) b.featureMask.dispose();
  if (b.embeddingMask) b.embeddingMask.dispose();
}
