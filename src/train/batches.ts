// Streaming batches for teacher forcing: captions bucketed by length (little padding), shuffled with
// a seed per epoch, materialised one batch at a time (src/train/replicas.ts, per step) from the rows of
// its images (src/train/feature-store.ts) and token ids: nothing per epoch is held but the plan of indices.
import * as tf from '@tensorflow/tfjs';
import { SPECIAL_IDS } from '../run/formats.js';
import { mixSeed, mulberry32 } from '../util/random.js';
import type { BatchTensors } from '../model/ops.js';
import type { HostBatch, HostMask } from '../model/host-batch.js';
import type { Example, FeatureRows } from './data.js';
import { matrixReader, type FeatureRowReader } from './feature-store.js';
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

export type { HostBatch, HostMask };

export interface BuildOptions {
  /** Empty time steps added at the end (tests use it to show that padding changes nothing). */
  extraPadding?: number;
  /**
   * Round the time steps up to a multiple of this: an engine that compiles a graph per batch shape
   * (ONNX) then makes few graphs, each of which ONNX Runtime keeps a memory arena for.
   */
  timeStepMultiple?: number;
  /** At least this many time steps (the shards of one batch keep the whole batch's, and so its graph). */
  minTimeSteps?: number;
  /**
   * Empty captions added up to this many columns: they have no scored position, so they change no
   * loss or gradient; an engine that compiles a graph per batch shape (ONNX) then sees one batch size.
   */
  padTo?: number;
  /** Training: draw dropout masks; firstCaption = position of picks[0] in the whole batch (replica shards). */
  dropout?: ShardDropout;
  /** One loss weight per pick (default 1 each: plain cross-entropy). */
  weights?: ArrayLike<number>;
  /** The captions were sampled from the model (HostBatch.sampled). */
  sampled?: boolean;
}

/**
 * Inputs [start, w1..wn], targets [w1..wn, end] for each caption, plus dropout masks when training.
 * features: the rows of the picks' images (a store's batch rows, src/train/feature-store.ts), or a
 * whole feature matrix, float32 or float16 bits (the batch is float32 either way).
 */
export function buildBatch(
  examples: Example[],
  picks: number[],
  features: FeatureRowReader | FeatureRows,
  featureSize: number,
  opts: BuildOptions = {},
): HostBatch {
  const batchSize = Math.max(picks.length, opts.padTo ?? 0);
  const timeSteps = Math.max(batchTimeSteps(examples, picks, opts), opts.minTimeSteps ?? 0);
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
    for (let b = 0; b < picks.length; b++) {
      const ids = examples[picks[b]].ids;
      if (t > ids.length) continue;
      inputs[t * batchSize + b] = t === 0 ? SPECIAL_IDS.start : ids[t - 1];
      rows[k] = t * batchSize + b;
      rowCaption[k] = b;
      targets[k] = t < ids.length ? ids[t] : SPECIAL_IDS.end;
      k++;
    }
  }
  const reader = ArrayBuffer.isView(features) ? matrixReader(features, featureSize) : features;
  picks.forEach((p, b) => reader.copyRow(examples[p].imageRow, feats, b * featureSize));
  const weights = new Float32Array(batchSize).fill(1);
  if (opts.weights) {
    if (opts.weights.length !== picks.length) throw new Error(`buildBatch: ${opts.weights.length} weights for ${picks.length} captions`);
    weights.set(opts.weights);
  }
  const batch: HostBatch = {
    batchSize,
    timeSteps,
    features: feats,
    inputs,
    rows,
    rowCaption,
    targets,
    weights,
    masks: {},
    ...(opts.sampled ? { sampled: true } : {}),
  };
  if (opts.dropout) addDropoutMasks(batch, opts.dropout);
  return batch;
}

/** The time steps of a batch of these picks: the longest caption + 1 (start or end), padded as asked. */
export function batchTimeSteps(
  examples: Example[],
  picks: number[],
  opts: Pick<BuildOptions, 'extraPadding' | 'timeStepMultiple'> = {},
): number {
  let longest = 0;
  for (const p of picks) longest = Math.max(longest, examples[p].ids.length);
  const multiple = opts.timeStepMultiple ?? 1;
  return Math.ceil((longest + 1 + (opts.extraPadding ?? 0)) / multiple) * multiple;
}

/** Draws the batch's dropout masks (nothing when the rate is 0); gradient replicas draw their shard's own. */
export function addDropoutMasks(batch: HostBatch, spec: ShardDropout): void {
  if (spec.rate <= 0) return;
  const masks = dropoutMasks(spec, { firstCaption: spec.firstCaption ?? 0, batchSize: batch.batchSize, timeSteps: batch.timeSteps });
  batch.masks = {};
  for (const site of spec.sites) {
    batch.masks[site.name] = {
      rows: site.per === 'caption' ? batch.batchSize : batch.timeSteps * batch.batchSize,
      values: masks[site.name],
    };
  }
}

/** A batch on the tfjs backend, plus what the loss needs on the host. */
export interface DeviceBatch extends BatchTensors<tf.Tensor> {
  /** [N] target word ids (the loss is computed on the host). */
  targetIds: Int32Array;
  /** [N] each scored position's loss weight, its caption's; absent when every weight is 1 (nothing to multiply). */
  rowWeights?: Float32Array;
  /** Scored positions (tokens incl. end). */
  count: number;
  /** Sampled targets (HostBatch.sampled): [N] 1 where the row is its caption's first word. */
  firstWordRows?: Uint8Array;
}

/** featureShape: one image's feature shape ([D] pooled, [regions, channels] spatial). */
export function toTensors(b: HostBatch, featureShape?: number[]): DeviceBatch {
  const shape = featureShape ?? [b.features.length / b.batchSize];
  const masks: Record<string, tf.Tensor> = {};
  for (const [name, m] of Object.entries(b.masks)) masks[name] = tf.tensor2d(m.values, [m.rows, m.values.length / m.rows]);
  return {
    features: tf.tensor(b.features, [b.batchSize, ...shape], 'float32'),
    masks,
    inputs: tf.tensor1d(b.inputs, 'int32'),
    rows: tf.tensor1d(b.rows, 'int32'),
    rowCaption: tf.tensor1d(b.rowCaption, 'int32'),
    batchSize: b.batchSize,
    timeSteps: b.timeSteps,
    targetIds: b.targets,
    ...(b.weights.every((w) => w === 1) ? {} : { rowWeights: Float32Array.from(b.rowCaption, (c) => b.weights[c]) }),
    ...(b.sampled ? { firstWordRows: Uint8Array.from(b.rows, (r) => (r < b.batchSize ? 1 : 0)) } : {}),
    count: b.targets.length,
  };
}

export function disposeBatch(b: DeviceBatch): void {
  tf.dispose([b.features, b.inputs, b.rows, b.rowCaption, ...Object.values(b.masks)]);
}
