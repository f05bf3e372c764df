// caption's defaults, apart from run.ts so that `caption --help` loads no tfjs.
import { DEFAULT_DECODE_OPTIONS } from '../decode/types.js';
import { defaultCheckpointDir, DEFAULT_RUN_DIR } from '../run/layout.js';
import type { CaptionConfig } from './run.js';

export const DEFAULT_CAPTION_CONFIG: Omit<CaptionConfig, 'inputs'> = {
  checkpointDir: defaultCheckpointDir(DEFAULT_RUN_DIR), // the best checkpoint of the default run
  beamSize: DEFAULT_DECODE_OPTIONS.beamSize,
  lengthPenalty: DEFAULT_DECODE_OPTIONS.lengthPenalty,
  blockNgrams: DEFAULT_DECODE_OPTIONS.blockNgrams,
  batchSize: 16, // as prepare's feature batches: encoder memory, not decoding, is the limit here
  backend: 'auto',
};
