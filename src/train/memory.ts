// The memory a training run needs, estimated from its sizes before anything is allocated, and the
// memory this process may use: `train` refuses (exit 2, naming the flags to lower) a run that
// cannot fit, instead of growing until the kernel kills it or a typed array throws a RangeError.
import { constants as bufferConstants } from 'node:buffer';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { CapgenError } from '../errors.js';
import { sizeOf, type BaseSizes, type DecoderOptions, type DecoderSpec } from '../model/decoder.js';
import { broadcastShapes, unrolledLstm, type BatchTensors, type Ops, type Shape } from '../model/ops.js';

const FLOAT_BYTES = 4;
/** The longest typed array Node allows (V8's limit, in elements); a longer one is a RangeError. */
export const MAX_ARRAY_VALUES = bufferConstants.MAX_LENGTH;

/**
 * Ops that compute nothing: each returns its output's shape and adds its values to a count. A
 * decoder's teacher-forced pass run over them gives the values one forward pass creates, which the
 * backward pass keeps (or recomputes into) until the step ends: the size of a step's activations.
 */
class CountingOps implements Ops<Shape> {
  readonly kind = 'graph' as const;
  values = 0;
  largest = 0;

  /** Counts a new array of this shape. */
  out(shape: Shape): Shape {
    const n = sizeOf(shape);
    this.values += n;
    this.largest = Math.max(this.largest, n);
    return shape;
  }

  shape = (x: Shape) => x;
  constant = (_values: Float32Array, shape: Shape) => shape;
  matmul(a: Shape, b: Shape, opts: { transposeB?: boolean } = {}): Shape {
    const n = opts.transposeB ? b[b.length - 2] : b[b.length - 1];
    const lead = b.length === 2 ? a.slice(0, -2) : broadcastShapes(a.slice(0, -2), b.slice(0, -2));
    return this.out([...lead, a[a.length - 2], n]);
  }
  add = (a: Shape, b: Shape) => this.out(broadcastShapes(a, b));
  sub = (a: Shape, b: Shape) => this.out(broadcastShapes(a, b));
  mul = (a: Shape, b: Shape) => this.out(broadcastShapes(a, b));
  scale = (x: Shape) => this.out(x);
  sigmoid = (x: Shape) => this.out(x);
  tanh = (x: Shape) => this.out(x);
  relu = (x: Shape) => this.out(x);
  exp = (x: Shape) => this.out(x);
  sqrt = (x: Shape) => this.out(x);
  reciprocal = (x: Shape) => this.out(x);
  softmax = (x: Shape) => this.out(x);
  logSoftmax = (x: Shape) => this.out(x);
  sum(x: Shape, axes: number[], keepDims = false): Shape {
    const norm = axes.map((a) => (a < 0 ? a + x.length : a));
    return this.out(keepDims ? x.map((d, i) => (norm.includes(i) ? 1 : d)) : x.filter((_, i) => !norm.includes(i)));
  }
  mean = (x: Shape, axes: number[], keepDims = false) => this.sum(x, axes, keepDims);
  /** A view: no new values. */
  reshape(x: Shape, shape: Shape): Shape {
    const known = shape.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
    return shape.map((d) => (d === -1 ? sizeOf(x) / known : d));
  }
  transpose = (x: Shape, perm: number[]) => this.out(perm.map((p) => x[p]));
  concat(xs: Shape[], axis: number): Shape {
    const ax = axis < 0 ? axis + xs[0].length : axis;
    return this.out(xs[0].map((d, i) => (i === ax ? xs.reduce((s, x) => s + x[ax], 0) : d)));
  }
  split(x: Shape, sizes: number[], axis: number): Shape[] {
    const ax = axis < 0 ? axis + x.length : axis;
    return sizes.map((s) => this.out(x.map((d, i) => (i === ax ? s : d))));
  }
  gather = (x: Shape, ids: Shape) => this.out([...ids, ...x.slice(1)]);
  gatherMatmul = (table: Shape, ids: Shape, kernel: Shape): Shape => this.matmul(this.gather(table, ids), kernel);
  lstmSequence = (xProj: Shape, recurrent: Shape, timeSteps: number): Shape => unrolledLstm(this, xProj, recurrent, timeSteps);
}

/** Values of one teacher-forced training pass over `captions` x `timeSteps` (inputs, masks and the loss's [words, vocab] arrays included). */
export function stepValues<S extends BaseSizes>(
  spec: DecoderSpec<S>,
  sizes: S,
  batch: { captions: number; timeSteps: number },
): { values: number; largest: number } {
  const ops = new CountingOps();
  const B = batch.captions;
  const T = batch.timeSteps;
  const words = B * T; // at most: every position scored
  const features = ops.out([B, ...spec.featureShape(sizes)]);
  const masks: Record<string, Shape> = {};
  if (sizes.dropout > 0)
    for (const site of spec.dropoutSites(sizes)) masks[site.name] = ops.out([site.per === 'caption' ? B : T * B, site.width]);
  const w = Object.fromEntries(spec.weightShapes(sizes));
  const tensors: BatchTensors<Shape> = { features, inputs: [T * B], rows: [words], rowCaption: [words], masks, batchSize: B, timeSteps: T };
  const out = spec.teacherForced(ops, w, tensors, { sizes, training: sizes.dropout > 0 });
  // The loss: softmax of the logits and its gradient, both [words, vocab].
  ops.softmax(out.logits);
  ops.softmax(out.logits);
  return { values: ops.values, largest: ops.largest };
}

export interface TrainMemoryInput<S extends BaseSizes = BaseSizes> {
  spec: DecoderSpec<S>;
  sizes: S;
  batchSize: number;
  /** Longest caption in tokens, without start/end (prepare.json's maxCaptionLength). */
  maxCaptionLength: number;
  engine: 'onnx' | 'tfjs';
  /** tfjs engine: gradient replicas (each holds its own copy of the weights and gradients). */
  replicas: number;
  /** The feature matrix held for the run: rows (train + dev images) and bytes per value. */
  featureRows: number;
  featureBytes: 2 | 4;
  /** onnx engine: time steps per full-size batch before it runs in shards (src/train/step.ts). */
  fullBatchTimeSteps: number;
  /** onnx engine: captions are padded to a multiple of this many time steps. */
  timeStepMultiple: number;
}

export interface TrainMemoryEstimate {
  /** Weights, their gradients and Adam's two moments, with the engine's own copies. */
  modelBytes: number;
  /** One training step: the forward values its backward pass needs, inputs included. */
  stepBytes: number;
  /** The feature matrix, held for the whole run. */
  featuresBytes: number;
  totalBytes: number;
  /** Values in the largest single array (a weight, the optimizer file's moments, or an activation). */
  largestArrayValues: number;
}

/**
 * A rough lower bound of what training needs: what it cannot do without. The ONNX engine holds the
 * weights, one gradient array and Adam's m and v on the host (4 copies) and runs a batch longer
 * than fullBatchTimeSteps in shards of fewer captions; tfjs adds its variables (5) and each extra
 * replica its own weights and gradients, and runs the whole batch at its longest caption.
 */
export function estimateTrainMemory<S extends BaseSizes>(input: TrainMemoryInput<S>): TrainMemoryEstimate {
  const { spec, sizes } = input;
  const parameters = spec.weightShapes(sizes).reduce((n, [, shape]) => n + sizeOf(shape), 0);
  const largestWeight = Math.max(...spec.weightShapes(sizes).map(([, shape]) => sizeOf(shape)));
  const copies = input.engine === 'onnx' ? 4 : 5 + (input.replicas > 1 ? 2 * input.replicas : 0);
  const longest = input.maxCaptionLength + 1; // start + words (the end token is a target only)
  let batch: { captions: number; timeSteps: number };
  if (input.engine === 'onnx') {
    const timeSteps = Math.ceil(longest / input.timeStepMultiple) * input.timeStepMultiple;
    const shards = Math.max(1, Math.ceil(timeSteps / input.fullBatchTimeSteps));
    batch = { captions: Math.ceil(input.batchSize / shards), timeSteps };
  } else {
    batch = { captions: input.batchSize, timeSteps: longest };
  }
  const step = stepValues(spec, sizes, batch);
  const modelBytes = parameters * copies * FLOAT_BYTES;
  const stepBytes = step.values * FLOAT_BYTES;
  const featuresBytes = input.featureRows * sizes.featureSize * input.featureBytes;
  return {
    modelBytes,
    stepBytes,
    featuresBytes,
    totalBytes: modelBytes + stepBytes + featuresBytes,
    // The optimizer's moments are saved as one array of 2 x parameters (src/model/checkpoint.ts).
    largestArrayValues: Math.max(largestWeight, 2 * parameters, step.largest),
  };
}

/** Where the memory limit came from, for the message. */
export interface MemoryAvailable {
  bytes: number;
  source: string;
}

/** cgroup v2 and v1 limit files, as a container sees its own. */
const CGROUP_LIMIT_FILES = ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'];

/** The memory this process may use: the cgroup's limit when one is set below the machine's memory, else the machine's memory. */
export function availableMemory(opts: { limitFiles?: string[]; totalBytes?: number } = {}): MemoryAvailable {
  const total = opts.totalBytes ?? os.totalmem();
  for (const file of opts.limitFiles ?? CGROUP_LIMIT_FILES) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch {
      continue;
    }
    const limit = Number(text); // 'max' (v2) or a huge number (v1): no limit
    if (Number.isFinite(limit) && limit > 0 && limit < total) return { bytes: limit, source: `the cgroup limit (${file})` };
  }
  return { bytes: total, source: "this machine's memory" };
}

const gb = (bytes: number) => `${(bytes / 1e9).toFixed(bytes < 1e10 ? 2 : 0)} GB`;

/** Size flags of `capgen train` by DecoderOptions key (heads change no memory worth naming). */
const SIZE_FLAGS: [keyof DecoderOptions, string][] = [
  ['hiddenSize', '--hidden-size'],
  ['embeddingSize', '--embedding-size'],
  ['attentionSize', '--attention-size'],
  ['projectionSize', '--projection-size'],
  ['width', '--width'],
  ['ffnSize', '--ffn-size'],
  ['layers', '--layers'],
];

/**
 * The flags whose halving saves the most of the estimate: each candidate (the batch size and the
 * decoder's size flags it has) is halved in turn, and the one saving most is named, with any that
 * save nearly as much (three quarters of it).
 */
export function flagsToLower<S extends BaseSizes>(
  input: TrainMemoryInput<S>,
  rebuild: (options: DecoderOptions) => S,
  options: DecoderOptions,
): string[] {
  const base = estimateTrainMemory(input).totalBytes;
  const savings: { flag: string; saved: number }[] = [];
  if (input.batchSize > 1) {
    const half = estimateTrainMemory({ ...input, batchSize: Math.ceil(input.batchSize / 2) }).totalBytes;
    savings.push({ flag: '--batch-size', saved: base - half });
  }
  const sizes = input.sizes as unknown as Record<string, unknown>;
  for (const [key, flag] of SIZE_FLAGS) {
    const value = sizes[key];
    if (typeof value !== 'number' || value <= 1) continue;
    try {
      const halved = rebuild({ ...options, [key]: Math.ceil(value / 2) });
      savings.push({ flag, saved: base - estimateTrainMemory({ ...input, sizes: halved }).totalBytes });
    } catch {
      // a combination the decoder refuses (e.g. a width the heads do not divide): not a suggestion
    }
  }
  savings.sort((a, b) => b.saved - a.saved);
  return savings.filter((s) => s.saved > 0 && s.saved >= 0.75 * savings[0].saved).map((s) => s.flag);
}

/**
 * Refuses (USAGE, exit 2) a run whose estimate exceeds the memory available, or whose largest array
 * is longer than a typed array may be; names the flags to lower.
 */
export function assertTrainFits<S extends BaseSizes>(
  input: TrainMemoryInput<S>,
  ctx: { available: MemoryAvailable; rebuild: (options: DecoderOptions) => S; options: DecoderOptions },
): TrainMemoryEstimate {
  const e = estimateTrainMemory(input);
  const tooMuch = e.totalBytes > ctx.available.bytes;
  const tooLong = e.largestArrayValues > MAX_ARRAY_VALUES;
  if (!tooMuch && !tooLong) return e;
  const flags = flagsToLower(input, ctx.rebuild, ctx.options);
  const parts = `model ${gb(e.modelBytes)} (weights, gradients, Adam's moments), one step of ${input.batchSize} captions ${gb(e.stepBytes)}, features ${gb(e.featuresBytes)}`;
  const why = tooMuch
    ? `it needs at least ${gb(e.totalBytes)} (${parts}), more than the ${gb(ctx.available.bytes)} of ${ctx.available.source}`
    : `one of its arrays would hold ${e.largestArrayValues.toExponential(2)} values, more than the ${MAX_ARRAY_VALUES.toExponential(2)} a typed array can`;
  throw new CapgenError('USAGE', `this training cannot fit: ${why}`, { hint: `lower ${flags.join(' or ')}` });
}
