// Types of the files in a run folder (see layout.ts), shared by the stages that write and read them.
import type { CleaningRules } from '../text/clean.js';

export type SplitName = 'train' | 'dev' | 'test';

/** One line of captions.jsonl. */
export interface PreparedCaption {
  /** Image file name, as the dataset names it (e.g. `1000268201_693b08cb0e.jpg`). */
  image: string;
  split: SplitName;
  /** The caption as written in the dataset. */
  raw: string;
  /** Cleaned tokens (no start/end markers). */
  tokens: string[];
}

/** vocab.json. Ids 0..3 are reserved; words follow, most frequent first. */
export interface VocabularyFile {
  /** tokens[id] is the word for id. */
  tokens: string[];
  specials: { pad: 0; start: 1; end: 2; unk: 3 };
  /** Words seen fewer times than this in the training split map to unk. */
  minCount: number;
}

export const SPECIAL_TOKENS = { pad: '<pad>', start: '<start>', end: '<end>', unk: '<unk>' } as const;
export const SPECIAL_IDS = { pad: 0, start: 1, end: 2, unk: 3 } as const;

/** What produced a feature vector: two caches with different identities never mix. */
export interface EncoderIdentity {
  /** `resnet50`, `tfjs-layers`, `seeded-cnn`, ... */
  architecture: string;
  /** sha256 of the weights (files), or `random:<seed>` / `seeded:<seed>` for generated weights. */
  weightsHash: string;
  /** Layer whose output is the feature (tfjs-layers encoders), else the architecture's default. */
  layer: string;
  preprocess: 'caffe' | 'tf' | 'torch' | 'unit';
  resize: 'squash' | 'crop';
  pooling: 'avg' | 'none';
  /** Encoder input [height, width]. */
  inputSize: [number, number];
  /** Feature shape per image: [2048] for pooled ResNet50, [7, 7, 2048] unpooled. */
  featureShape: number[];
  /** For tfjs-layers encoders: the model.json path the user gave (informational). */
  source?: string;
  /** The same, relative to the run folder when it lies inside it, so a moved run still finds it (informational). */
  sourceInRun?: string;
}

/** prepare.json */
export interface PrepareRecord {
  createdAt: string;
  capgenVersion: string;
  config: Record<string, unknown>;
  cleaning: CleaningRules;
  /** Longest caption kept, in tokens, without start/end. */
  maxCaptionLength: number;
  stats: Record<string, unknown>;
  /** Absent when features were not computed (`--features none`). */
  features?: {
    /** Relative to the run folder: `features/<key>`. */
    dir: string;
    encoder: EncoderIdentity;
    dtype: 'float32' | 'float16';
  };
}
