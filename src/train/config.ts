// The typed configuration of `capgen train`, with its defaults and the reason for each (flags
// override them; `--resume` takes the checkpoint's values for what decides the results).
import type { BackendChoice } from '../backend/index.js';
import type { DecoderOptions } from '../model/decoder.js';
import type { DecoderName } from '../model/registry.js';
import type { FeaturesDtype } from './data.js';
import type { FeatureStoreChoice } from './feature-store.js';
import { DEFAULT_RUN_DIR } from '../run/layout.js';
import type { LoopConfig } from './loop.js';

/** What runs the training step (`train --engine`); kept here, not in step.ts, so that `train --help` loads no tfjs. */
import type { EngineChoice } from '../engine/choices.js';
export { ENGINE_CHOICES, type EngineChoice } from '../engine/choices.js';

/** `train --objective`: teacher-forced cross-entropy, or self-critical training (src/train/scst.ts). */
export type Objective = 'xe' | 'scst';
export const OBJECTIVES: Objective[] = ['xe', 'scst'];
/** `train --scst-baseline`: the mean reward of the image's other samples, or its greedy caption's reward. */
export type ScstBaseline = 'mean' | 'greedy';
export const SCST_BASELINES: ScstBaseline[] = ['mean', 'greedy'];

/** What a self-critical training was fine-tuned from (recorded in its checkpoints' trainConfig). */
export interface FineTunedFrom {
  /** The checkpoint folder: relative to the run folder when it is the run's own (train-xe/best), else absolute. */
  checkpoint: string;
  epoch: number;
  /** The checkpoint.json seal (src/model/checkpoint.ts): which checkpoint exactly. */
  contentSha256: string;
}

export interface TrainConfig extends LoopConfig, DecoderOptions {
  /** Unset = 'xe'. */
  objective?: Objective;
  /** scst: captions sampled per image per step (K). */
  scstSamples?: number;
  scstBaseline?: ScstBaseline;
  /** scst: the checkpoint folder to fine-tune; unset = the run's train/best. Not saved (fineTunedFrom is). */
  initFrom?: string;
  /** scst: set by train, recorded in the checkpoints. */
  fineTunedFrom?: FineTunedFrom;
  runDir: string;
  backend: BackendChoice;
  /** Which decoder to train (src/model/registry.ts). */
  decoder: DecoderName;
  /** What runs the training step (src/train/step.ts). */
  engine: EngineChoice;
  learningRate: number;
  /** Clip gradients to this global L2 norm; 0 = off. */
  clipNorm: number;
  dropout: number;
  /** Label smoothing of the training targets (0 = none); the reported losses are always the plain ones. */
  labelSmoothing: number;
  resume: boolean;
  /** How the feature matrix is held in memory (src/train/data.ts); undefined = 'auto'. */
  featuresDtype?: FeaturesDtype;
  /** Where the rows are read from during training (src/train/feature-store.ts); changes speed and memory, not results. */
  featureStore?: FeatureStoreChoice;
  /** auto's memory budget for the feature rows, in MiB; undefined = a quarter of RAM. */
  featureMemoryMb?: number;
  /** Gradient replicas (threads) per step of the tfjs engine; undefined = one per core on WASM/cpu, 1 on native TensorFlow. */
  replicas?: number;
  /** Keep the weights of the last N epochs in <run>/train/epochs/epoch-NNN (0 = none), for `capgen average`. */
  keepEpochs?: number;
  /** TensorBoard event files here (native backends only); a log choice, never saved with the checkpoint. */
  tensorboardDir?: string;
  /**
   * Save a resumable last/ checkpoint within an epoch once this many minutes have passed since the
   * last save (0 = only at epoch ends): what a `kill -9` can lose. Not saved with the checkpoint.
   */
  checkpointEveryMinutes?: number;
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  runDir: DEFAULT_RUN_DIR,
  backend: 'auto',
  decoder: 'merge', // the Keras notebook's model: what users of the tutorial compare with
  engine: 'auto', // ONNX Runtime on CPU hosts, tfjs on native TensorFlow (src/train/step.ts)
  epochs: 20, // the Keras tutorial trains 20; early stopping usually ends sooner
  // 128: on Flickr8k it reaches the same best validation loss as 64 in less
  // time per epoch (larger matrix products, half the optimizer updates); see bench/README.md.
  batchSize: 128,
  // One micro-batch per step: accumulating only pays where the batch wanted does not fit in memory.
  accumulate: 1,
  learningRate: 1e-3, // Keras' Adam default
  clipNorm: 5, // guards against LSTM gradient spikes; rarely active after the first steps
  dropout: 0.5, // the Keras tutorial's rate
  labelSmoothing: 0, // the notebook has none; transformer users often set 0.1
  seed: 1,
  patience: 4, // epochs without a better validation loss before stopping
  lrPatience: 2, // epochs without improvement before the learning rate is cut
  lrFactor: 0.5, // halving: the usual ReduceLROnPlateau choice
  minLearningRate: 1e-5, // below this Adam's steps are noise for these models
  // Linear warm-up of the learning rate, in steps; unset = the decoder's own (transformer: one
  // epoch, resolved in src/train/run.ts once the data is known; merge: none).
  warmupSteps: undefined,
  featuresDtype: 'auto', // float16 for spatial maps (half of 1.4 GB on Flickr8k), float32 for pooled vectors
  // Memory while the rows fit the budget (fastest, nothing to read per step), the cache on disk
  // when they do not (COCO's spatial maps are past a typical machine's memory); same results either way.
  featureStore: 'auto',
  // Off: each kept epoch is another copy of the weights. `capgen average` of a run's last epochs
  // usually captions better than its best epoch alone (bench/README.md), so runs meant for it set ~5.
  keepEpochs: 0,
  logEveryBatches: 5, // progress redraws are cheap; every batch would only add flicker
  // A kill -9 (the OOM killer, a preempted VM) loses at most this much training. A save writes the
  // weights three times over (weights, Adam's m and v): tens of MB for the usual sizes, seconds at
  // most, so every 5 minutes costs well under 1% of the time while an hour-long epoch loses little.
  checkpointEveryMinutes: 5,
  resume: false,
  objective: 'xe', // cross-entropy first: self-critical training fine-tunes a trained model
  // 5 samples per image: Rennie et al.'s and ruotianluo/ImageCaptioning.pytorch's usual choice
  // (the mean of the other 4 is a steady baseline; the cost grows with K).
  scstSamples: 5,
  // The mean of the other samples needs no extra greedy decode per step (ruotianluo's "new SCST").
  scstBaseline: 'mean',
};

/**
 * scst's learning rate when --lr is not given: fine-tuning a trained model with a noisy gradient;
 * ruotianluo/ImageCaptioning.pytorch's SCST configs use 5e-5 (cross-entropy's 1e-3 undoes the training).
 */
export const SCST_LEARNING_RATE = 5e-5;
