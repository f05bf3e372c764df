// What every export format gets (a loaded checkpoint and the decoding settings) and reports back.
import type { BaseSizes, DecoderSpec, Weights } from '../model/decoder.js';
import type { CheckpointMeta } from '../model/checkpoint.js';
import type { ModelManifest } from './web/caption-model.js';

export interface ExportSource {
  checkpointDir: string;
  meta: CheckpointMeta;
  spec: DecoderSpec;
  sizes: BaseSizes;
  weights: Weights;
  /** Recorded in the manifest: what a program using the files should do by default. */
  decoding: ModelManifest['decoding'];
}

/** A file an export wrote, relative to its output folder. */
export interface WrittenFile {
  path: string;
  bytes: number;
}

/** `export --format` choices (here, not in run.ts, so that `export --help` loads no tfjs). */
export const EXPORT_FORMATS = ['tfjs', 'onnx', 'web'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
