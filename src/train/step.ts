// The training step, whichever engine runs it: a batch of captions in (bucketed picks from the
// epoch plan, each with a loss weight, 1 = plain cross-entropy: src/train/objective.ts), run as
// micro-batches of `batchSize` captions (--accumulate: their gradients summed, normalised by the
// whole step's scored words, so N micro-batches equal one N-times larger batch), dropout masks drawn
// per caption, the decoder's loss and gradients out, Adam (with global-norm clipping) applied once to
// the host copy of the weights. Two engines, tested equal
// (test/engine/, test/train/engines.test.ts):
// - onnx: the decoder's forward + backward pass as one ONNX graph per caption length, in ONNX Runtime
//   (src/engine/onnx/trainer.ts): native matrix kernels on any CPU, without native TensorFlow;
// - tfjs: the decoder on TensorFlow.js, tfjs' autodiff, with data-parallel gradient replicas on
//   WASM/cpu (src/train/replicas.ts); on tfjs-node(-gpu) one replica and tfjs ops only.
import { engineToTry, type EngineChoice, type EngineDecision } from '../engine/choice.js';
import type { BackendInfo } from '../backend/index.js';
import { hostBackend } from '../engine/tfjs-ops.js';
import { OnnxTrainer } from '../engine/onnx/trainer.js';
import type { BaseSizes, DecoderSpec, Weights } from '../model/decoder.js';
import { TfjsDecoder } from '../engine/tfjs-decoder.js';
import { Adam, type AdamOptions } from './adam.js';
import { DeviceAdam } from './adam-device.js';
import { batchTimeSteps, buildBatch } from './batches.js';
import type { TrainingData } from './data.js';
import { batchRows, readAheadAfter } from './feature-store.js';
import { startReplicas, type Replicas, type StepResult } from './replicas.js';

export { ENGINE_CHOICES, type EngineChoice } from '../engine/choice.js';

/**
 * The ONNX engine pads captions to a multiple of 8 time steps: one graph (and one ONNX Runtime memory
 * arena) per 8 lengths instead of per length. Padded steps come after every caption's end, so no loss
 * or gradient changes; they cost some recurrence work, less than what allocating fresh memory every
 * step without an arena cost (page faults), and 8 kept the arenas of a Flickr8k run smaller
 * than 4 did at the same speed (bench/README.md).
 */
export const ONNX_TIME_STEP_MULTIPLE = 8;
/**
 * A training graph's memory grows with captions x time steps (the attention decoder keeps tens of MB per
 * step of 128 captions for its backward pass). A batch longer than this runs as shards of fewer
 * captions, each within batchSize x 16 caption-steps, and the shards' gradients add up to the whole
 * batch's (they are sums over captions). 16: the bucket of most of Flickr8k's captions; the rarer
 * longer batches had held the largest memory arenas and the largest one-off peaks. Measured in
 * bench/README.md (peak RSS of the attention run).
 */
export const FULL_BATCH_TIME_STEPS = 16;

export interface TrainingEngine extends Replicas {
  readonly name: 'onnx' | 'tfjs';
  /** One line for the log: what runs the step, on how many threads. */
  readonly description: string;
  readonly optimizer: Adam | DeviceAdam;
  /** The current weights by name (host copies: valid until the next step). */
  weights(): Weights;
}

export interface EngineContext<S extends BaseSizes> {
  choice: EngineChoice;
  backend: BackendInfo;
  spec: DecoderSpec<S>;
  sizes: S;
  initialWeights: Weights;
  adam: AdamOptions;
  data: TrainingData;
  /**
   * Captions per micro-batch (what memory is sized for): a step given more picks runs them as
   * micro-batches of this size and sums their gradients before one Adam update (--accumulate).
   */
  batchSize: number;
  labelSmoothing: number;
  /** tfjs engine: gradient replicas (threads). */
  replicas: number;
  /** onnx engine: batches longer than this run in shards (default FULL_BATCH_TIME_STEPS; tests set it). */
  fullBatchTimeSteps?: number;
}

/** One micro-batch of the onnx engine: its picks, the time steps it runs at, the captions it is padded to. */
export interface LengthShard {
  picks: number[];
  timeSteps: number;
  padTo: number;
}

/**
 * The onnx engine's micro-batches of one step's picks, consecutive and in order: at most batchSize
 * captions each (the micro-batches of --accumulate), ceil(batchSize / k) when long, k =
 * ceil(timeSteps / maxTimeSteps); each at its own longest caption's time steps (`timeStepsOf` a
 * pick), padded to the size its length allows, so there is one graph per length. Picks in length
 * order (the epoch plan's buckets, self-critical samples sorted by length) then pad little. (The
 * tfjs engine's shards are per replica: src/train/replicas.ts shardPicks.)
 */
export function lengthShards(
  picks: number[],
  timeStepsOf: (pick: number) => number,
  batchSize: number,
  maxTimeSteps: number,
): LengthShard[] {
  const sizeFor = (timeSteps: number) => {
    const k = Math.max(1, Math.ceil(timeSteps / maxTimeSteps));
    return k === 1 ? batchSize : Math.ceil(batchSize / k);
  };
  const shards: LengthShard[] = [];
  for (let i = 0; i < picks.length;) {
    // The longest run of picks from i that its own longest caption allows.
    let count = 0;
    let timeSteps = 0;
    while (i + count < picks.length) {
      const longer = Math.max(timeSteps, timeStepsOf(picks[i + count]));
      if (count + 1 > sizeFor(longer)) break;
      timeSteps = longer;
      count++;
    }
    shards.push({ picks: picks.slice(i, i + count), timeSteps, padTo: sizeFor(timeSteps) });
    i += count;
  }
  return shards;
}

/**
 * auto: ONNX Runtime where tfjs runs on the host (WASM, cpu) and ONNX Runtime loads; tfjs on the
 * native backends (tfjs-node, tfjs-node-gpu), whose kernels are native already and which keep the
 * data on the device. The rules are every part's (src/engine/choice.ts).
 */
export function resolveEngine(choice: EngineChoice, backend: BackendInfo): EngineDecision {
  const decision = engineToTry(choice, { part: 'training', backend: backend.name });
  return decision.unavailable ? { name: 'tfjs', why: `ONNX Runtime is missing (${decision.why})` } : decision;
}

export async function startTrainingEngine<S extends BaseSizes>(ctx: EngineContext<S>): Promise<TrainingEngine> {
  const { spec, sizes, data } = ctx;
  const names = spec.weightShapes(sizes).map(([n]) => n);
  const resolved = resolveEngine(ctx.choice, ctx.backend);
  if (resolved.name === 'tfjs') {
    const model = new TfjsDecoder(spec, sizes, ctx.initialWeights);
    // On native backends with one replica, the update stays on the device (no gradient reads).
    const optimizer =
      !hostBackend(ctx.backend.name) && ctx.replicas === 1
        ? new DeviceAdam(model.variables, ctx.adam)
        : new Adam(model.variables, ctx.adam);
    const replicas = await startReplicas({
      count: ctx.replicas,
      backend: ctx.backend.name,
      model,
      optimizer,
      data,
      labelSmoothing: ctx.labelSmoothing,
      microBatchSize: ctx.batchSize,
    });
    return {
      ...replicas,
      name: 'tfjs',
      description: `engine tfjs (${resolved.why}), ${replicas.count} gradient replica${replicas.count === 1 ? '' : 's'}`,
      optimizer,
      weights: () => {
        const current = optimizer.currentWeights();
        return Object.fromEntries(names.map((n, k) => [n, current[k]]));
      },
      async close() {
        await replicas.close();
        optimizer.dispose();
        model.dispose();
      },
    };
  }

  const optimizer = new Adam(
    names.map((n) => ctx.initialWeights[n]),
    { ...ctx.adam, sharedMemory: false },
  );
  const trainer = new OnnxTrainer(spec, sizes, { batchSize: ctx.batchSize, labelSmoothing: ctx.labelSmoothing });
  const grads = optimizer.hostWeights.map((w) => new Float32Array(w.length));
  const sites = spec.dropoutSites(sizes);
  return {
    name: 'onnx',
    description: `engine onnx (ONNX Runtime, ${resolved.why})`,
    count: 1,
    optimizer,
    weights: () => Object.fromEntries(names.map((n, k) => [n, optimizer.hostWeights[k]])),
    async step(picks, seed, opts = {}): Promise<StepResult> {
      const { weights, examples = data.train, sampled } = opts;
      const shards = lengthShards(
        picks,
        (p) => batchTimeSteps(examples, [p], { timeStepMultiple: ONNX_TIME_STEP_MULTIPLE }),
        ctx.batchSize,
        ctx.fullBatchTimeSteps ?? FULL_BATCH_TIME_STEPS,
      );
      let scoredWords = 0;
      for (const p of picks) scoredWords += examples[p].ids.length + 1;
      const sum = { loss: 0, correct: 0, count: 0 };
      const rows = await data.features.rows(batchRows(examples, picks));
      let offset = 0;
      for (const shard of shards) {
        // Padded to its length's shard size: one graph per length, whatever the batch's size; each
        // caption's dropout mask is the one it gets in the whole batch.
        const batch = buildBatch(examples, shard.picks, rows, data.featureSize, {
          padTo: shard.padTo,
          timeStepMultiple: ONNX_TIME_STEP_MULTIPLE,
          minTimeSteps: shard.timeSteps,
          dropout: { rate: sizes.dropout, seed, sites, firstCaption: offset },
          ...(weights ? { weights: Array.from({ length: shard.picks.length }, (_, i) => weights[offset + i]) } : {}),
          sampled,
        });
        const r = await trainer.run(optimizer.hostWeights, batch, grads, { scoredWords, accumulate: offset > 0 });
        sum.loss += r.loss * r.count;
        sum.correct += r.correct;
        sum.count += r.count;
        offset += shard.picks.length;
      }
      optimizer.applyHost(grads);
      return { loss: sum.loss / sum.count, correct: sum.correct, count: sum.count };
    },
    async evaluate(examples, plan) {
      const padTo = Math.max(...plan.map((p) => p.length));
      let lossSum = 0;
      let correct = 0;
      let tokens = 0;
      for (const [i, picks] of plan.entries()) {
        readAheadAfter(data.features, examples, plan, i);
        const rows = await data.features.rows(batchRows(examples, picks));
        const r = await trainer.run(
          optimizer.hostWeights,
          buildBatch(examples, picks, rows, data.featureSize, { padTo, timeStepMultiple: ONNX_TIME_STEP_MULTIPLE }),
        );
        lossSum += r.loss * r.count;
        correct += r.correct;
        tokens += r.count;
      }
      return { lossSum, correct, tokens };
    },
    close: () => trainer.close(),
  };
}
