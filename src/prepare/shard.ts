// `capgen prepare --shard I/N`: one process of a job array. It reads the dataset as prepare does and
// computes the features of its own images (a pure function of each image's name), into a sub-cache
// of the feature cache; it writes no run files. A plain `prepare` with the same flags afterwards
// copies the shards' rows into the cache and writes the run.
import { CapgenError } from '../errors.js';
import { info } from '../log.js';
import { formatShard, type ShardSpec } from '../util/shard.js';
import type { PrepareConfig } from './config.js';
import { loadDataset } from './dataset.js';
import { computeFeatures } from './features-step.js';
import { DEFAULT_CLEANING } from '../text/clean.js';

export interface ShardSummary {
  shard: ShardSpec;
  outDir: string;
  /** Images of the whole dataset, and those this shard owns. */
  images: number;
  owned: number;
  computed: number;
  reused: number;
  badImages: number;
  /** Where the shard's features went (relative to the run folder when inside it). */
  dir: string;
}

export async function runShard(config: PrepareConfig & { shard: ShardSpec }): Promise<ShardSummary> {
  if (config.dataset === 'synthetic')
    throw new CapgenError('USAGE', '--shard cannot generate the synthetic dataset: every shard would write it at once', {
      hint: 'generate it once first (capgen prepare --dataset synthetic --encoder none --out RUN), then shard with --data RUN/dataset',
    });
  if (config.features.encoder === 'none')
    throw new CapgenError('USAGE', '--shard splits the image features, and --encoder none computes none', {
      hint: 'run `capgen prepare` without --shard, or pick an encoder',
    });
  const data = await loadDataset({ ...config, rules: DEFAULT_CLEANING });
  const images = [...new Set(data.captions.map((c) => c.image))];
  info(`shard ${formatShard(config.shard)}: image features of its share of ${images.length} images through ${config.features.encoder}`);
  const out = await computeFeatures({
    runDir: config.outDir,
    images,
    source: data.images,
    config: config.features,
    backend: config.backend,
    cacheRoot: config.featureCache,
    shard: config.shard,
  });
  return {
    shard: config.shard,
    outDir: config.outDir,
    images: images.length,
    owned: out.computed + out.reused + out.bad.length,
    computed: out.computed,
    reused: out.reused,
    badImages: out.bad.length,
    dir: out.record.dir,
  };
}

export function formatShardSummary(s: ShardSummary): string {
  return (
    `prepared shard ${formatShard(s.shard)} of ${s.outDir}: ${s.owned} of ${s.images} images (${s.computed} computed, ${s.reused} reused, ${s.badImages} unreadable) in ${s.dir}\n` +
    `  when every shard is done, run the same \`capgen prepare\` without --shard: it copies their features and writes the run`
  );
}
