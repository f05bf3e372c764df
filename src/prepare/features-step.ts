// The second half of prepare: image features for the images that kept captions, through the
// shared feature extractor (src/features), which caches them in the run folder or --feature-cache.
import { describeBackend, initBackend, type BackendChoice } from '../backend/index.js';
import type { FeaturesConfig } from '../features/config.js';
import { pathInRun } from '../features/encoder-location.js';
import { extractFeatures } from '../features/extract.js';
import type { ImageSource } from '../features/image-source.js';
import { info } from '../log.js';
import type { PrepareRecord } from '../run/formats.js';
import type { ShardSpec } from '../util/shard.js';

export interface FeaturesOutcome {
  record: NonNullable<PrepareRecord['features']>;
  computed: number;
  reused: number;
  bad: { name: string; reason: string }[];
}

export async function computeFeatures(opts: {
  runDir: string;
  /** Names of the images, and where their bytes are read from. */
  images: string[];
  source: ImageSource;
  config: FeaturesConfig;
  backend: BackendChoice;
  /** --feature-cache: the folder holding the cache folders (default: the run's features/). */
  cacheRoot?: string;
  shard?: ShardSpec;
}): Promise<FeaturesOutcome> {
  const backend = await initBackend(opts.backend);
  info(describeBackend(backend));
  const out = await extractFeatures({
    runDir: opts.runDir,
    images: opts.images.map((name) => ({ name })),
    source: opts.source,
    config: opts.config,
    backend,
    cacheRoot: opts.cacheRoot,
    shard: opts.shard,
  });
  // A model kept inside the run folder moves with it: record where, relative to the folder.
  const sourceInRun = pathInRun(out.encoder.source, opts.runDir);
  const encoder = sourceInRun ? { ...out.encoder, sourceInRun } : out.encoder;
  return { record: { dir: out.dir, encoder, dtype: out.dtype }, computed: out.computed, reused: out.reused, bad: out.bad };
}
