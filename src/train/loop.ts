// The training loop: epochs of seeded, bucketed batches; Adam with clipping; validation after each
// epoch; early stopping and learning-rate decay on plateau. I/O (checkpoints, history, progress)
// goes through hooks so that tests can drive the loop directly and stop it after any batch.
import { mixSeed } from '../util/random.js';
import { planEpoch } from './batches.js';
import type { Example, TrainingData } from './data.js';
import { readAheadAfter } from './feature-store.js';
import type { EpochRecord } from './history.js';
import { assertFiniteLoss } from './non-finite.js';
import type { Replicas, StepResult } from './replicas.js';

export interface LoopConfig {
  epochs: number;
  /** Captions per micro-batch (one forward and backward pass). */
  batchSize: number;
  /**
   * Micro-batches per optimizer step (gradient accumulation): a step's batch is batchSize x accumulate
   * captions, planned as one batch, so the result equals that larger batch's. Unset = 1.
   */
  accumulate?: number;
  seed: number;
  /** Stop after this many epochs without a better validation loss. */
  patience: number;
  /** Multiply the learning rate by lrFactor after this many epochs without improvement. */
  lrPatience: number;
  lrFactor: number;
  minLearningRate: number;
  /** Update the progress display every this many batches. */
  logEveryBatches: number;
  /** Linear learning-rate warm-up over this many first steps (0 or unset = none). */
  warmupSteps?: number;
  /** Stop after this many steps of this call (unset = none), saving a resumable checkpoint as on Ctrl-C. */
  maxSteps?: number;
}

/** Where training stands; saved in `last/` so that --resume continues exactly here. */
export interface TrainState {
  /** Epochs completed. */
  epoch: number;
  /** Next batch of the current epoch (0 at an epoch boundary). */
  batch: number;
  learningRate: number;
  bestValLoss: number | null;
  /** With an objective (self-critical training): the best dev score (higher is better) that picks best/. */
  bestScore?: number | null;
  bestEpoch: number | null;
  epochsWithoutImprovement: number;
  epochsSinceLrChange: number;
  /** Sums over the batches done so far in the current epoch. */
  partial: { lossSum: number; correct: number; tokens: number; captions: number; seconds: number; rewardSum?: number; samples?: number };
  history: EpochRecord[];
  finished: boolean;
}

export function freshState(learningRate: number): TrainState {
  return {
    epoch: 0,
    batch: 0,
    learningRate,
    bestValLoss: null,
    bestEpoch: null,
    epochsWithoutImprovement: 0,
    epochsSinceLrChange: 0,
    partial: { lossSum: 0, correct: 0, tokens: 0, captions: 0, seconds: 0 },
    history: [],
    finished: false,
  };
}

export interface LoopHooks {
  /** Called when an epoch starts (batches = its batch count, startBatch > 0 when resuming mid-epoch). */
  onEpochStart?(epoch: number, batches: number, startBatch: number): void;
  /** Progress, every logEveryBatches batches: running train loss/accuracy of this epoch. */
  onProgress?(p: { epoch: number; batch: number; batches: number; loss: number; accuracy: number; samplesPerSecond: number }): void;
  /** After validation: the epoch's record; improved = a new best validation loss. */
  onEpochEnd?(record: EpochRecord, state: TrainState, improved: boolean): Promise<void>;
  /** Checked after every batch: true stops the loop (state then points at the next batch). */
  shouldStop?(): boolean;
  /** Stopped by shouldStop ('signal') or config.maxSteps ('max-steps'), mid-epoch or at its end. */
  onInterrupt?(state: TrainState, reason: StopReason): Promise<void>;
  /** Checked after every batch but an epoch's last: true calls onCheckpoint (a timed save). */
  checkpointDue?(): boolean;
  /**
   * A resumable save within an epoch: `state` is exactly what onInterrupt gets after the same batch
   * (it points at the next batch), so resuming from it continues as if training had not stopped.
   */
  onCheckpoint?(state: TrainState): Promise<void>;
}

export type StopReason = 'signal' | 'max-steps';

/**
 * A training objective other than teacher-forced cross-entropy (self-critical training, src/train/scst.ts):
 * what an epoch plans its batches over, its step, and the dev score that picks the best epoch.
 */
export interface LoopObjective {
  examples: Example[];
  step(picks: number[], seed: number): Promise<StepResult & { rewardSum: number; samples: number }>;
  /** Higher is better; undefined without a dev split (then the mean reward picks the best epoch). */
  devScore(): Promise<number | undefined>;
}

/** Captions per optimizer step: the micro-batches of one step together. */
export function stepCaptions(config: Pick<LoopConfig, 'batchSize' | 'accumulate'>): number {
  return config.batchSize * (config.accumulate ?? 1);
}

/** Validation loss (mean per word) and accuracy; no dropout, no gradients. */
export async function validate(replicas: Replicas, examples: Example[], batchSize = 256): Promise<{ loss: number; accuracy: number }> {
  const plan = planEpoch(examples, { batchSize, seed: 0, epoch: 0, shuffle: false });
  const { lossSum, correct, tokens } = await replicas.evaluate(examples, plan);
  return { loss: tokens ? lossSum / tokens : NaN, accuracy: tokens ? correct / tokens : NaN };
}

/** Trains through `replicas` (they hold the model and its optimizer). */
export async function trainLoop(ctx: {
  replicas: Replicas;
  optimizer: { learningRate: number };
  data: TrainingData;
  config: LoopConfig;
  state: TrainState;
  hooks?: LoopHooks;
  /** Unset: teacher-forced cross-entropy on data.train's captions. */
  objective?: LoopObjective;
}): Promise<TrainState> {
  const { replicas, optimizer, data, config, state } = ctx;
  const hooks = ctx.hooks ?? {};
  const { objective } = ctx;
  const examples = objective?.examples ?? data.train;
  let steps = 0;
  let stopReason: StopReason = 'signal';
  while (state.epoch < config.epochs && !state.finished) {
    const epoch = state.epoch; // 0-based; reported 1-based
    const plan = planEpoch(examples, { batchSize: stepCaptions(config), seed: config.seed, epoch, shuffle: true });
    hooks.onEpochStart?.(epoch, plan.length, state.batch);
    optimizer.learningRate = state.learningRate;
    const warmup = config.warmupSteps ?? 0;
    const started = performance.now();
    const startSeconds = state.partial.seconds;
    let stopped = false;
    for (let index = state.batch; index < plan.length; index++) {
      const globalStep = epoch * plan.length + index;
      if (globalStep < warmup) optimizer.learningRate = (state.learningRate * (globalStep + 1)) / warmup;
      else if (warmup) optimizer.learningRate = state.learningRate;
      // The next batches' features are read (disk store) while this one trains.
      readAheadAfter(data.features, examples, plan, index);
      const seed = mixSeed(config.seed, epoch, index);
      const r: StepResult & { rewardSum?: number; samples?: number } = objective
        ? await objective.step(plan[index], seed)
        : await replicas.step(plan[index], seed);
      assertFiniteLoss(r.loss, { epoch: epoch + 1, batch: index + 1 });
      state.partial.lossSum += r.loss * r.count;
      state.partial.correct += r.correct;
      state.partial.tokens += r.count;
      state.partial.captions += plan[index].length;
      if (r.rewardSum !== undefined) {
        state.partial.rewardSum = (state.partial.rewardSum ?? 0) + r.rewardSum;
        state.partial.samples = (state.partial.samples ?? 0) + (r.samples ?? 0);
      }
      state.partial.seconds = startSeconds + (performance.now() - started) / 1000;
      state.batch = index + 1;
      steps++;
      const signalled = hooks.shouldStop?.() ?? false;
      const stop = signalled || (config.maxSteps !== undefined && steps >= config.maxSteps);
      if (stop) stopReason = signalled ? 'signal' : 'max-steps';
      if (stop || state.batch % config.logEveryBatches === 0 || state.batch === plan.length) {
        const p = state.partial;
        hooks.onProgress?.({
          epoch,
          batch: state.batch,
          batches: plan.length,
          loss: p.lossSum / p.tokens,
          accuracy: p.correct / p.tokens,
          samplesPerSecond: p.captions / Math.max(p.seconds, 1e-9),
        });
      }
      if (stop) {
        stopped = true;
        break;
      }
      if (state.batch < plan.length && hooks.checkpointDue?.()) await hooks.onCheckpoint?.(state);
      // Let signals (Ctrl-C) and timers through between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (stopped && state.batch < plan.length) {
      await hooks.onInterrupt?.(state, stopReason);
      return state;
    }
    const val = data.dev.length ? await validate(replicas, data.dev) : undefined;
    if (val) assertFiniteLoss(val.loss, { epoch: epoch + 1, batch: plan.length, what: 'validation loss' });
    const p = state.partial;
    const record: EpochRecord = {
      epoch: epoch + 1,
      trainLoss: p.lossSum / p.tokens,
      trainAccuracy: p.correct / p.tokens,
      valLoss: val ? val.loss : null,
      valAccuracy: val ? val.accuracy : null,
      learningRate: state.learningRate,
      seconds: (performance.now() - started) / 1000 + startSeconds,
      samplesPerSecond: p.captions / Math.max(p.seconds, 1e-9),
    };
    let improved: boolean;
    if (objective) {
      record.meanReward = (p.rewardSum ?? 0) / Math.max(p.samples ?? 0, 1);
      const dev = await objective.devScore();
      if (dev !== undefined) record.devCiderD = dev;
      const score = dev ?? record.meanReward;
      improved = state.bestScore === undefined || state.bestScore === null || score > state.bestScore;
      if (improved) state.bestScore = score;
    } else {
      // Without a dev split, the training loss picks the best epoch.
      const monitored = record.valLoss ?? record.trainLoss;
      improved = state.bestValLoss === null || monitored < state.bestValLoss;
      if (improved) state.bestValLoss = monitored;
    }
    if (improved) {
      state.bestEpoch = epoch + 1;
      state.epochsWithoutImprovement = 0;
      state.epochsSinceLrChange = 0;
    } else {
      state.epochsWithoutImprovement++;
      state.epochsSinceLrChange++;
      if (state.epochsSinceLrChange >= config.lrPatience && state.learningRate > config.minLearningRate) {
        state.learningRate = Math.max(config.minLearningRate, state.learningRate * config.lrFactor);
        state.epochsSinceLrChange = 0;
      }
    }
    state.history.push(record);
    state.epoch = epoch + 1;
    state.batch = 0;
    state.partial = { lossSum: 0, correct: 0, tokens: 0, captions: 0, seconds: 0 };
    if (state.epochsWithoutImprovement >= config.patience) state.finished = true;
    await hooks.onEpochEnd?.(record, state, improved);
    if (stopped) {
      await hooks.onInterrupt?.(state, stopReason);
      return state;
    }
  }
  return state;
}
