// The ONNX Runtime training engine: a decoder's teacher-forced pass, its loss and (for training) its
// backward pass as one ONNX graph per batch shape, run by ONNX Runtime on the CPU (MLAS kernels:
// AVX2/FMA matrix products, threaded). Weights stay in the optimizer's host arrays and go in as
// inputs; the loss, the correct count and every weight's gradient come out. Batches are padded to
// one batch size (BuildOptions.padTo), so there is one graph per caption length and kind.
import { encodeOnnxModel, type OnnxModel } from './proto.js';
import { createOnnxSession, type OnnxRuntime, type OrtSession, type OrtTensor } from './runtime.js';
import { type BaseSizes, type DecoderSpec } from '../../model/decoder.js';
import type { HostBatch } from '../../model/host-batch.js';
import { DECODER_OPSET, GraphOps, type Sym } from './graph-ops.js';
import { REFUSED_LOGIT, refusedWords } from '../../decode/candidates.js';

export interface StepGraphOptions {
  batchSize: number;
  timeSteps: number;
  /** With the backward pass (and dropout masks as inputs). */
  training: boolean;
  /** Label smoothing of the training targets (0 = none); the reported loss is never smoothed. */
  labelSmoothing: number;
  /**
   * The targets were sampled (HostBatch.sampled): each row's softmax leaves out the words sampling
   * refuses (src/decode/candidates.ts refusedWords), the end token too at a caption's first word.
   */
  sampled?: boolean;
  /**
   * With the captions' loss weights as an input (`weights` [B]). Without, every weight is 1 and the
   * graph leaves the multiplications out (a pass over [words, vocab] that would change nothing).
   */
  weighted?: boolean;
}

/**
 * The graph of one step. Inputs: `w:<name>` per weight, features [B, ...featureShape], inputs [T*B],
 * rows [N], rowCaption [N], targets [N] (int32), `mask:<site>` when training with dropout, weights [B]
 * when weighted. Outputs: loss [] (weighted mean cross-entropy per scored word: the loss defined in
 * src/train/objective.ts), correct [] (argmax hits), and when training `grad:<name>` per weight: N
 * times the gradient of that loss (+ the decoder's penalty).
 */
export function buildStepGraph<S extends BaseSizes>(spec: DecoderSpec<S>, sizes: S, opts: StepGraphOptions): OnnxModel {
  const g = new GraphOps();
  const B = opts.batchSize;
  const T = opts.timeSteps;
  const shapes = spec.weightShapes(sizes);
  const w: Record<string, Sym> = {};
  for (const [name, shape] of shapes) w[name] = g.input(`w:${name}`, shape, { trainable: opts.training });
  const features = g.input('features', [B, ...spec.featureShape(sizes)]);
  const inputs = g.input('inputs', [T * B], { type: 'int32' });
  const rows = g.input('rows', [-1], { type: 'int32', distinct: true }); // positions t*B+b, each once
  const rowCaption = g.input('rowCaption', [-1], { type: 'int32' });
  const targets = g.input('targets', [-1], { type: 'int32' });
  const masks: Record<string, Sym> = {};
  const dropout = opts.training && sizes.dropout > 0;
  if (dropout) {
    for (const site of spec.dropoutSites(sizes))
      masks[site.name] = g.input(`mask:${site.name}`, [site.per === 'caption' ? B : T * B, site.width]);
  }
  const out = spec.teacherForced(
    g,
    w,
    { features, inputs, rows, rowCaption, masks, batchSize: B, timeSteps: T },
    { sizes, training: dropout },
  );
  const V = sizes.vocabSize;
  // [N, V]; for sampled captions, refused words at REFUSED_LOGIT (softmax 0, so no loss or gradient)
  const logits = opts.sampled ? withRefusedWords(g, out.logits, rows, B, V) : out.logits;

  // One softmax pass serves the loss, its gradient and nothing else over [N, V] but the argmax.
  const probs = g.raw('Softmax', [logits], [-1, V], { attributes: { axis: 1 } });
  const target64 = g.raw('Cast', [targets], [-1], { attributes: { to: 7 }, type: 'int64' });
  const targetCol = g.raw('Unsqueeze', [target64, g.int64s([1])], [-1, 1], { type: 'int64' });
  const picked = g.raw('GatherElements', [probs, targetCol], [-1, 1], { attributes: { axis: 1 } });
  // [N, 1] each scored word's weight, its caption's.
  const rowWeights = opts.weighted
    ? g.raw(
        'Unsqueeze',
        [g.raw('Gather', [g.input('weights', [B]), rowCaption], [-1], { attributes: { axis: 0 } }), g.int64s([1])],
        [-1, 1],
      )
    : undefined;
  const weigh = (x: Sym, shape: number[]) => (rowWeights ? g.raw('Mul', [x, rowWeights], shape) : x);
  // Mean of -w log p(target) over the scored words (p underflows to 0 only past ~1e-38: loss = inf, and
  // training stops on a non-finite loss rather than going on silently).
  const logPicked = weigh(g.raw('Log', [picked], [-1, 1]), [-1, 1]);
  g.output('loss', g.raw('Neg', [g.raw('ReduceMean', [logPicked], [], { attributes: { keepdims: 0 } })], []));
  const hits = g.raw('Equal', [g.raw('ArgMax', [logits], [-1], { attributes: { axis: 1, keepdims: 0 }, type: 'int64' }), target64], [-1]);
  g.output('correct', g.raw('ReduceSum', [g.raw('Cast', [hits], [-1], { attributes: { to: 1 } })], [], { attributes: { keepdims: 0 } }));
  if (!opts.training) return finish(g, 'capgen_eval');

  // N * d(mean loss)/d(logits) = w (softmax - q), q = (1 - eps) one-hot + eps / V: the 1/N is applied to
  // the weight gradients on the host (fewer values than [N, V]), and the penalty's seed is N to match.
  const eps = opts.labelSmoothing;
  const smoothed = eps > 0 ? g.raw('Sub', [probs, g.constant(Float32Array.of(eps / V), [])], [-1, V]) : probs;
  const minusOnes = g.raw(
    'Expand',
    [g.constant(Float32Array.of(-(1 - eps)), [1, 1]), g.raw('Shape', [targetCol], [2], { type: 'int64' })],
    [-1, 1],
  );
  const dLogits = g.raw('ScatterElements', [smoothed, targetCol, minusOnes], [-1, V], { attributes: { axis: 1, reduction: 'add' } });
  // (the refused words' bias is a constant: the gradient of the masked logits is that of the logits)
  const seeds = [{ of: out.logits, grad: weigh(dLogits, [-1, V]) }];
  if (out.penalty) {
    const count = g.raw('Cast', [g.raw('Shape', [targets], [1], { type: 'int64' })], [1], { attributes: { to: 1 } });
    seeds.push({ of: out.penalty, grad: g.raw('Expand', [count, g.int64s([...out.penalty.shape])], out.penalty.shape) });
  }
  const grads = g.backward(
    seeds,
    shapes.map(([name]) => w[name]),
  );
  shapes.forEach(([name], i) => g.output(`grad:${name}`, grads[i]));
  return finish(g, 'capgen_train');
}

/** logits [N, V] + REFUSED_LOGIT at each row's refused words: the first-word set where rows[i] < B (t = 0). */
function withRefusedWords(g: GraphOps, logits: Sym, rows: Sym, B: number, V: number): Sym {
  const bias = (first: boolean) => {
    const row = new Float32Array(V);
    for (const w of refusedWords(first)) if (w < V) row[w] = REFUSED_LOGIT;
    return g.constant(row, [1, V]);
  };
  // rows hold t*B + b: t = 0 is rows < B (compared as floats: exact below 2^24 positions)
  const rowsFloat = g.raw('Cast', [rows], [-1], { attributes: { to: 1 } });
  const first = g.raw('Cast', [g.raw('Less', [rowsFloat, g.constant(Float32Array.of(B), [])], [-1])], [-1], { attributes: { to: 1 } });
  const firstCol = g.raw('Unsqueeze', [first, g.int64s([1])], [-1, 1]);
  const extra = g.raw('Sub', [bias(true), bias(false)], [1, V]); // the end token's column as a first word
  const perRow = g.raw('Add', [bias(false), g.raw('Mul', [firstCol, extra], [-1, V])], [-1, V]);
  return g.raw('Add', [logits, perRow], [-1, V]);
}

function finish(g: GraphOps, graphName: string): OnnxModel {
  return { opset: DECODER_OPSET, graphName, nodes: g.nodes, initializers: g.initializers, inputs: g.inputs, outputs: g.outputs };
}

/**
 * A training graph gets an ONNX Runtime memory arena once it has run this many times. With an arena a
 * graph keeps the memory of its largest run (tens of MB per time step of a batch of 128 for the
 * attention decoder); without one, every run maps fresh memory for its [words, vocab] arrays and the
 * page faults cost a good share of that run. Common caption lengths run dozens of times an epoch and get one;
 * the rare long ones (a batch or two an epoch, yet the largest arenas) do not, and validation
 * graphs (once an epoch) never do: an arena for every graph multiplied a run's peak memory
 * (bench/README.md).
 */
const ARENA_AFTER_RUNS = 8;
/**
 * ...and makes up at least this share of the training runs so far: over many epochs even the rarest
 * length reaches 8 runs (a Flickr8k attention run's memory kept climbing as its longest graphs got
 * arenas), while a common length is well above 5% (bench/README.md).
 */
const ARENA_MIN_SHARE = 0.05;

/**
 * A batch run in shards (fewer captions per graph run, less memory): the summed-loss gradients of
 * the shards add up to the whole batch's, so each shard divides by the whole batch's scored words and
 * adds into the same arrays.
 */
export interface ShardOptions {
  /** Divide the gradients by this many scored words (default: this batch's own). */
  scoredWords?: number;
  /** Add into `grads` instead of overwriting them. */
  accumulate?: boolean;
}

export interface StepResult {
  /** Weighted mean cross-entropy per scored word (src/train/objective.ts). */
  loss: number;
  correct: number;
  /** Scored words. */
  count: number;
}

/** Runs a decoder's step graphs in ONNX Runtime, one session per (kind, caption length), made on first use. */
export class OnnxTrainer<S extends BaseSizes = BaseSizes> {
  private readonly sessions = new Map<string, Promise<OrtSession>>();
  /** Runs so far per graph, and the training graphs' encoded models (to reopen them with an arena). */
  private readonly runs = new Map<string, number>();
  private readonly models = new Map<string, Uint8Array>();
  private readonly arenas = new Set<string>();
  private trainingRuns = 0;
  private readonly names: string[];
  private readonly shapes: number[][];
  private ort: OnnxRuntime | undefined;

  constructor(
    readonly spec: DecoderSpec<S>,
    readonly sizes: S,
    private readonly opts: { batchSize: number; labelSmoothing: number; threads?: number },
  ) {
    const shapes = spec.weightShapes(sizes);
    this.names = shapes.map(([n]) => n);
    this.shapes = shapes.map(([, s]) => s);
  }

  /** Graphs made so far (for logs and tests). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** The graphs that keep a memory arena now, as 'train:BxT' (for tests). */
  get arenaGraphs(): string[] {
    return [...this.arenas];
  }

  private session(training: boolean, timeSteps: number, batchSize: number, weighted: boolean, sampled: boolean): Promise<OrtSession> {
    const key = `${training ? 'train' : 'eval'}:${batchSize}x${timeSteps}${weighted ? ':weighted' : ''}${sampled ? ':sampled' : ''}`;
    const runs = (this.runs.get(key) ?? 0) + 1;
    this.runs.set(key, runs);
    if (training) this.trainingRuns++;
    let s = this.sessions.get(key);
    if (!s) {
      const model = encodeOnnxModel(
        buildStepGraph(this.spec, this.sizes, {
          batchSize,
          timeSteps,
          training,
          // sampled captions: the distribution they were drawn from, unsmoothed (src/train/objective.ts)
          labelSmoothing: sampled ? 0 : this.opts.labelSmoothing,
          weighted,
          sampled,
        }),
      );
      if (training) this.models.set(key, model);
      s = this.open(model, false);
      this.sessions.set(key, s);
    } else if (training && !this.arenas.has(key) && runs >= ARENA_AFTER_RUNS && runs >= ARENA_MIN_SHARE * this.trainingRuns) {
      // This caption length is a common one: from now on its graph keeps a memory arena.
      const old = s;
      s = this.open(this.models.get(key) as Uint8Array, true);
      this.arenas.add(key);
      this.models.delete(key); // never reopened again
      this.sessions.set(key, s);
      void old.then((o) => o.release()).catch(() => undefined); // its last run has finished (steps are sequential)
    }
    return s;
  }

  private open(model: Uint8Array, memoryArena: boolean): Promise<OrtSession> {
    return createOnnxSession(model, { threads: this.opts.threads, memoryArena }).then((r) => {
      this.ort = r.ort;
      return r.session;
    });
  }

  /**
   * One batch: loss and correct count; with `grads` (weight order), also the gradients of the mean
   * loss, copied (or with `shard.accumulate`, added) into those arrays.
   */
  async run(weights: readonly Float32Array[], batch: HostBatch, grads?: Float32Array[], shard: ShardOptions = {}): Promise<StepResult> {
    const training = grads !== undefined;
    const weighted = batch.weights.some((w) => w !== 1);
    const session = await this.session(training, batch.timeSteps, batch.batchSize, weighted, batch.sampled === true);
    const ort = this.ort as OnnxRuntime;
    const feeds: Record<string, OrtTensor> = {};
    this.names.forEach((name, k) => (feeds[`w:${name}`] = new ort.Tensor('float32', weights[k] as Float32Array, this.shapes[k])));
    feeds.features = new ort.Tensor('float32', batch.features, [batch.batchSize, ...this.spec.featureShape(this.sizes)]);
    feeds.inputs = new ort.Tensor('int32', batch.inputs, [batch.inputs.length]);
    feeds.rows = new ort.Tensor('int32', batch.rows, [batch.rows.length]);
    feeds.rowCaption = new ort.Tensor('int32', batch.rowCaption, [batch.rowCaption.length]);
    feeds.targets = new ort.Tensor('int32', batch.targets, [batch.targets.length]);
    if (weighted) feeds.weights = new ort.Tensor('float32', batch.weights, [batch.batchSize]);
    if (training && this.sizes.dropout > 0) {
      for (const site of this.spec.dropoutSites(this.sizes)) {
        const m = batch.masks[site.name];
        if (!m) throw new Error(`onnx trainer: the batch has no '${site.name}' dropout mask`);
        feeds[`mask:${site.name}`] = new ort.Tensor('float32', m.values, [m.rows, site.width]);
      }
    }
    const out = await session.run(feeds);
    const loss = (out.loss.data as Float32Array)[0];
    const correct = (out.correct.data as Float32Array)[0];
    if (grads) {
      // The graph's gradients are of the loss summed over words (see buildStepGraph).
      const perWord = 1 / (shard.scoredWords ?? batch.targets.length);
      this.names.forEach((name, k) => scaleInto(grads[k], out[`grad:${name}`].data as Float32Array, perWord, shard.accumulate ?? false));
    }
    for (const t of Object.values(out)) t.dispose?.();
    return { loss, correct, count: batch.targets.length };
  }

  async close(): Promise<void> {
    const all = await Promise.allSettled(this.sessions.values());
    this.sessions.clear();
    await Promise.all(all.map((r) => (r.status === 'fulfilled' ? r.value.release() : undefined)));
  }
}

function scaleInto(target: Float32Array, source: Float32Array, k: number, accumulate: boolean): void {
  if (accumulate) for (let i = 0; i < target.length; i++) target[i] += source[i] * k;
  else for (let i = 0; i < target.length; i++) target[i] = source[i] * k;
}
