// `capgen prepare`: flags -> PrepareConfig -> prepare's run(); the summary goes to stderr, and to
// stdout as JSON with --json.
import { ENGINE_CHOICES } from '../engine/choices.js';
import path from 'node:path';
import { Command, Option } from 'commander';
import type { BackendChoice } from '../backend/index.js';
import { DEFAULT_FEATURES_CONFIG, type FeaturesConfig } from '../features/config.js';
import { info, result } from '../log.js';
import { DEFAULT_PREPARE_CONFIG, SYNTHETIC_DATA_SUBDIR, type PrepareConfig } from '../prepare/config.js';
import { DATASET_FORMATS, formatsHelp } from '../prepare/formats.js';
import type { DatasetFormat } from '../prepare/readers/types.js';
import { parseSplitRatios } from '../prepare/splits.js';
import { formatSummary } from '../prepare/summary.js';
import { withRunLock } from '../run/lock.js';
import { formatShard, parseShardSpec } from '../util/shard.js';
import { backendOption, deprecatedAlias, intArg, resolveAlias, resolveRunDir, runOption } from './options.js';

interface PrepareFlags {
  data?: string;
  run: string;
  out?: string;
  format?: DatasetFormat;
  images?: string;
  dataset?: 'synthetic';
  count: number;
  seed: number;
  minCount: number;
  maxLength?: number;
  splitShares: string;
  split?: string;
  encoder: string;
  encoderLayer?: string;
  preprocess?: FeaturesConfig['preprocess'];
  weights?: string;
  pooling: FeaturesConfig['pooling'];
  resize: FeaturesConfig['resize'];
  batchSize: number;
  featuresDtype: FeaturesConfig['dtype'];
  dtype?: FeaturesConfig['dtype'];
  workers?: number;
  engine: NonNullable<FeaturesConfig['engine']>;
  backend: BackendChoice;
  featureCache?: string;
  shard?: string;
  json?: boolean;
}

/** The demo's offline encoder: chosen only for the synthetic dataset, and said so. */
const SYNTHETIC_DEFAULT_ENCODER = 'seeded-cnn';

function toConfig(flags: PrepareFlags, cmd: Command): PrepareConfig {
  const synthetic = flags.dataset === 'synthetic';
  let encoder = flags.encoder;
  if (synthetic && cmd.getOptionValueSource('encoder') === 'default') {
    encoder = SYNTHETIC_DEFAULT_ENCODER;
    info(`encoder: ${encoder} (the default for --dataset synthetic: seeded weights, no download)`);
  }
  const splitGiven = cmd.getOptionValueSource('splitShares') === 'cli' || flags.split !== undefined;
  const runDir = resolveRunDir(flags, cmd);
  return {
    dataDir: flags.data ?? (synthetic ? path.join(runDir, SYNTHETIC_DATA_SUBDIR) : DEFAULT_PREPARE_CONFIG.dataDir),
    outDir: runDir,
    format: flags.format,
    imagesDir: flags.images,
    dataset: flags.dataset,
    count: flags.count,
    seed: flags.seed,
    minCount: flags.minCount,
    maxLength: flags.maxLength,
    splitRatios: parseSplitRatios(resolveAlias<string>(cmd, '--split-shares', '--split')),
    forceRandomSplit: splitGiven,
    features: {
      encoder,
      encoderLayer: flags.encoderLayer,
      preprocess: flags.preprocess,
      weights: flags.weights,
      seed: flags.seed,
      pooling: flags.pooling,
      resize: flags.resize,
      batchSize: flags.batchSize,
      dtype: resolveAlias<FeaturesConfig['dtype']>(cmd, '--features-dtype', '--dtype'),
      workers: flags.workers,
      engine: flags.engine,
    },
    backend: flags.backend,
    featureCache: flags.featureCache === undefined ? undefined : path.resolve(flags.featureCache),
    shard: flags.shard === undefined ? undefined : parseShardSpec(flags.shard),
  };
}

export function prepareCommand(): Command {
  const d = DEFAULT_PREPARE_CONFIG;
  const f = DEFAULT_FEATURES_CONFIG;
  const command = new Command('prepare')
    .description('clean and tokenize captions, build vocabulary and splits, cache image features')
    .option(
      '--data <dir>',
      `dataset folder, or webdataset tars ('dir/{00000..00099}.tar', a folder of .tar files, one .tar) (default: ${d.dataDir}; with --dataset synthetic: <run>/${SYNTHETIC_DATA_SUBDIR})`,
    );
  for (const o of runOption('run folder to write', d.outDir, { outAlias: true })) command.addOption(o);
  return command
    .addOption(new Option('--format <name>', 'dataset format (default: detected; the list below)').choices([...DATASET_FORMATS]))
    .option('--images <dir>', 'images folder (default: where the format keeps them in --data, e.g. Images/)')
    .addOption(new Option('--dataset <name>', 'generate a built-in dataset into --data first').choices(['synthetic']))
    .option('--count <n>', 'synthetic images to generate', intArg(3), d.count)
    .option('--seed <n>', 'seed of the random split, the synthetic dataset and generated weights', intArg(0), d.seed)
    .option('--min-count <n>', 'keep words seen at least this often in training captions', intArg(1), d.minCount)
    .option(
      '--max-length <n>',
      'cut captions to at most this many tokens (default: the 99.9th percentile of the data, at most 100)',
      intArg(1),
    )
    .option(
      '--split-shares <shares>',
      'train,dev,test shares of a random split (given, it overrides official lists)',
      d.splitRatios.join(','),
    )
    .addOption(deprecatedAlias('--split <shares>', '--split-shares'))
    .option(
      '--encoder <name>',
      'image encoder: resnet50, densenet201, vgg16, inceptionv3 (Keras ImageNet weights), seeded-cnn, path/to/model.json, or none',
      f.encoder,
    )
    .option('--encoder-layer <name>', 'tfjs layers model: the layer whose output is the feature')
    .addOption(new Option('--preprocess <mode>', 'tfjs layers model: pixel preprocessing').choices(['caffe', 'tf', 'torch', 'unit']))
    .option('--weights <path>', "resnet50, densenet201, vgg16, inceptionv3: Keras .h5 weights file, or 'random'")
    .addOption(new Option('--pooling <mode>', 'feature pooling').choices(['avg', 'none']).default(f.pooling))
    .addOption(new Option('--resize <mode>', 'image resizing').choices(['squash', 'crop']).default(f.resize))
    .option('--batch-size <n>', 'images per encoder call', intArg(1), f.batchSize)
    .addOption(
      new Option('--features-dtype <type>', 'number type of the image features: as stored in the feature cache')
        .choices(['float32', 'float16'])
        .default(f.dtype),
    )
    .addOption(deprecatedAlias('--dtype <type>', '--features-dtype').choices(['float32', 'float16']))
    .option('--workers <n>', 'worker threads running the encoder', intArg(1, 64))
    .addOption(
      new Option('--engine <name>', 'what runs the image encoder: onnx (ONNX Runtime, if installed), tfjs, or auto (onnx when it can)')
        .choices(ENGINE_CHOICES)
        .default(f.engine),
    )
    .addOption(backendOption())
    .option(
      '--feature-cache <dir>',
      'folder for the feature caches (one per encoder), shared by runs so images are encoded once (default: <run>/features)',
    )
    .option(
      '--shard <I/N>',
      'compute only shard I of N of the image features (a job-array task); then run the same prepare without --shard to merge',
    )
    .option('--json', 'print the summary as JSON on stdout')
    .addHelpText('after', `\n${formatsHelp()}`)
    .action(async (flags: PrepareFlags, cmd: Command) => {
      const config = toConfig(flags, cmd);
      const { shard } = config;
      if (shard) {
        const { formatShardSummary, runShard } = await import('../prepare/shard.js'); // loaded on use: --help stays fast
        // Shards share the run folder with each other, never with another writer.
        const summary = await withRunLock(config.outDir, `prepare --shard ${formatShard(shard)}`, () => runShard({ ...config, shard }), {
          shard,
        });
        info(formatShardSummary(summary));
        if (flags.json) result(JSON.stringify(summary, null, 2));
        return;
      }
      const { run } = await import('../prepare/run.js'); // loaded on use: --help stays fast
      const summary = await withRunLock(config.outDir, 'prepare', () => run(config));
      info(formatSummary(summary));
      if (flags.json) result(JSON.stringify(summary, null, 2));
    });
}
