// The typed configuration of `capgen prepare`, with its defaults (flags override them).
import type { BackendChoice } from '../backend/index.js';
import { DEFAULT_FEATURES_CONFIG, type FeaturesConfig } from '../features/config.js';
import { DEFAULT_RUN_DIR } from '../run/layout.js';
import type { ShardSpec } from '../util/shard.js';
import type { DatasetFormat } from './readers/types.js';

export interface PrepareConfig {
  /** Dataset folder; with `dataset: 'synthetic'` the folder the dataset is generated into. */
  dataDir: string;
  /** Run folder written by prepare. */
  outDir: string;
  /** Detected from the files when absent. */
  format?: DatasetFormat;
  /** Images folder; looked up under dataDir when absent. */
  imagesDir?: string;
  /** Generate the built-in synthetic dataset into dataDir first. */
  dataset?: 'synthetic';
  /** Synthetic images to generate. */
  count: number;
  /** Seed of the random split, the synthetic dataset and generated encoder weights. */
  seed: number;
  minCount: number;
  /** Longer captions are cut to this many tokens. */
  maxLength?: number;
  /** train/dev/test shares of a random split; given explicitly, it overrides official lists. */
  splitRatios: [number, number, number];
  forceRandomSplit: boolean;
  features: FeaturesConfig;
  backend: BackendChoice;
  /** Folder holding the feature cache folders (one per encoder identity); default: <outDir>/features. */
  featureCache?: string;
  /** Compute only this shard's image features (into the cache's shard sub-cache); write no run files. */
  shard?: ShardSpec;
}

export const DEFAULT_DATA_DIR = 'data/flickr8k';
/** Where `--dataset synthetic` writes its images when no --data is given: inside the run folder. */
export const SYNTHETIC_DATA_SUBDIR = 'dataset';

export const DEFAULT_PREPARE_CONFIG: PrepareConfig = {
  dataDir: DEFAULT_DATA_DIR, // where data/README.md tells users to put Flickr8k
  outDir: DEFAULT_RUN_DIR,
  count: 1000, // synthetic: enough scenes to learn colours/shapes/positions, rendered in seconds
  seed: 1, // fixed so that two runs give the same split and files
  // Words seen fewer than 5 times in the training captions are too rare to learn and are mostly
  // typos or odd names. Measured on Flickr8k's 30,000 training captions: 5 keeps 2531 words that
  // cover 97.4% of tokens; the Keras tutorial's 10 keeps 1652 (95.6%): a smaller softmax, but
  // 1.7x as many <unk> tokens to train on (4.4% vs 2.6%).
  minCount: 5,
  splitRatios: [0.8, 0.1, 0.1], // the usual 80/10/10; Flickr8k's lists are 6000/1000/1000
  forceRandomSplit: false,
  features: DEFAULT_FEATURES_CONFIG,
  backend: 'auto',
};
