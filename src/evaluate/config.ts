// The typed configuration of `capgen eval`, with its defaults (flags override them).
import type { BackendChoice } from '../backend/index.js';
import { DEFAULT_DECODE_BATCH_SIZE, DEFAULT_DECODE_OPTIONS } from '../decode/types.js';
import { DEFAULT_RUN_DIR } from '../run/layout.js';
import type { SplitName } from '../run/formats.js';
import { DEFAULT_SMOOTHING, type SmoothingMethod } from './metrics/index.js';

export interface EvalConfig {
  /** Run folder: prepare.json, captions.jsonl, features, train/. */
  runDir: string;
  /** Checkpoint folder; default `<run>/train/best`. Unused with `predictionsFile` (references are then cleaned with prepare.json's rules). */
  checkpointDir?: string;
  /** Split to decode; with `predictionsFile` the predicted images are scored, whatever their split. */
  split: Exclude<SplitName, 'train'>;
  beamSize: number;
  lengthPenalty: number;
  /** No n words in a row twice in a caption (0 = off). */
  blockNgrams: number;
  /** Images decoded per model batch. */
  batchSize: number;
  smoothing: SmoothingMethod;
  /** Score only the first N images of the split (quick checks). */
  limit?: number;
  /** Score this JSON Lines file of {image, caption} instead of decoding: no model needed. */
  predictionsFile?: string;
  /** Output folder; default `<run>/eval`. */
  outDir?: string;
  /** Embed image thumbnails in report.html (they make it ~5 KB per image larger). */
  thumbnails: boolean;
  /** Show each word's attention map in report.html when the model attends (~70 bytes a word). */
  attentionMaps: boolean;
  backend: BackendChoice;
}

export const DEFAULT_EVAL_CONFIG: EvalConfig = {
  runDir: DEFAULT_RUN_DIR,
  split: 'test', // the held-out split; Flickr8k copies without test images use --split dev
  beamSize: DEFAULT_DECODE_OPTIONS.beamSize,
  lengthPenalty: DEFAULT_DECODE_OPTIONS.lengthPenalty,
  blockNgrams: DEFAULT_DECODE_OPTIONS.blockNgrams,
  batchSize: DEFAULT_DECODE_BATCH_SIZE,
  smoothing: DEFAULT_SMOOTHING, // method0 = no smoothing: what corpus_bleu does unless told otherwise, so numbers compare with papers
  thumbnails: true,
  attentionMaps: true, // an attending model's maps explain its captions, for a few KB per image
  backend: 'auto',
};
