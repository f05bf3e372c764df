// The second half of prepare: image features for the images that kept captions, through the
// shared feature extractor (src/features), which caches them in the run folder.
import { describeBackend, initBackend, type BackendChoice } from '../backend/index.js';
import type { FeaturesConfig } from '../features/config.js';
import { CapgenError } from '../errors.js';
// TEMPORARY until src/features/extract.ts lands (helper B): then import extractFeatures from it.
async function extractFeatures(_opts: unknown): Promise<{ dir: string; encoder: NonNullable<PrepareRecord['features']>['encoder']; dtype: 'float32' | 'float16'; computed: number; reused: number; bad: { name: string; reason: string }[] }> {
  throw new CapgenError('USAGE', 'image features are not available in this build yet', { hint: 'use --encoder none' });
}
import { info } from '../log.js';
import type { PrepareRecord } from '../run/formats.js';
import path from 'node:path';

export interface FeaturesOutcome {
  record: NonNullable<PrepareRecord['features']>;
  computed: number;
  reused: number;
  bad: { name: string; reason: string }[];
}

export async function computeFeatures(opts: {
  runDir: string;
  imagesDir: string;
  images: string[];
  config: FeaturesConfig;
  backend: BackendChoice;
}): Promise<FeaturesOutcome> {
  const backend = await initBackend(opts.backend);
  info(describeBackend(backend));
  const out = await extractFeatures({
    runDir: opts.runDir,
    images: opts.images.map((name) => ({ name, path: path.join(opts.imagesDir, name) })),
    config: opts.config,
    backend,
  });
  return { record: { dir: out.dir, encoder: out.encoder, dtype: out.dtype }, computed: out.computed, reused: out.reused, bad: out.bad };
}
