// `capgen train`: flags -> TrainConfig -> runTrain.
import { Command, Option } from 'commander';
import { result, warn } from '../log.js';
import { DECODERS, DECODER_NAMES, type DecoderName } from '../model/registry.js';
import {
  DEFAULT_TRAIN_CONFIG as D,
  ENGINE_CHOICES,
  OBJECTIVES,
  SCST_BASELINES,
  SCST_LEARNING_RATE,
  type TrainConfig,
} from '../train/config.js';
import { FEATURES_DTYPES } from '../train/data.js';
import { FEATURE_STORE_CHOICES } from '../train/feature-store.js';
import os from 'node:os';
import { withRunLock } from '../run/lock.js';
import { guardTrainDir, recoverInterruptedOverwrite } from '../run/overwrite.js';
import { Interrupted, stopRequested } from '../util/signals.js';
import { backendOption, floatArg, intArg } from './options.js';
import { ATTENTION_DEFAULTS as A } from '../model/attention-lstm.js';
import { TRANSFORMER_DEFAULTS as T } from '../model/transformer.js';

export function trainCommand(): Command {
  const decoders = DECODER_NAMES.map((n) => `${n}: ${DECODERS[n].description}`).join('; ');
  return new Command('train')
    .description('train a caption decoder (merge LSTM, soft-attention LSTM or transformer) on the cached image features of a prepared run')
    .option('--run <dir>', 'run folder written by `capgen prepare`', D.runDir)
    .addOption(new Option('--decoder <name>', `decoder architecture (${decoders})`).choices(DECODER_NAMES).default(D.decoder))
    .addOption(
      new Option(
        '--engine <name>',
        'what runs the training step: onnx (ONNX Runtime, native CPU kernels), tfjs (TensorFlow.js; the GPU path), auto (onnx on WASM/cpu hosts, tfjs on tfjs-node/-gpu)',
      )
        .choices(ENGINE_CHOICES)
        .default(D.engine),
    )
    .addOption(
      new Option(
        '--objective <name>',
        "xe: teacher-forced cross-entropy; scst: self-critical training with a CIDEr-D reward, fine-tuning a trained checkpoint (the run's train/best, kept in <run>/train-xe, or --init-from)",
      )
        .choices(OBJECTIVES)
        .default(D.objective),
    )
    .option(
      '--scst-samples <k>',
      'scst: captions sampled per image per step (5: the usual choice; the cost grows with K)',
      intArg(1),
      D.scstSamples,
    )
    .addOption(
      new Option(
        '--scst-baseline <name>',
        "scst: what a sample's reward is compared with: mean (of the image's other samples) or greedy (its greedy caption's reward)",
      )
        .choices(SCST_BASELINES)
        .default(D.scstBaseline),
    )
    .option('--init-from <dir>', "scst: the checkpoint folder to fine-tune (default: the run's train/best)")
    .option('--epochs <n>', 'maximum epochs (the Keras tutorial trains 20; early stopping usually ends sooner)', intArg(1), D.epochs)
    .option(
      '--batch-size <n>',
      'captions per training step (per micro-batch with --accumulate; 128: the validation loss of 64 in ~25% less time); scst: images per step, each with --scst-samples captions, trained in micro-batches of at most 64 captions (memory)',
      intArg(1),
      D.batchSize,
    )
    .option(
      '--accumulate <n>',
      'gradient accumulation: each step sums the gradients of N micro-batches of --batch-size captions, then one Adam update (the same as a batch N times larger, in the memory of one micro-batch)',
      intArg(1),
      D.accumulate,
    )
    .option(
      '--lr <rate>',
      `Adam learning rate (merge: Keras default; transformer: 5e-4; scst: ${SCST_LEARNING_RATE})`,
      floatArg(0),
      D.learningRate,
    )
    .option('--clip-norm <n>', 'clip gradients to this global norm, 0 = off (guards LSTM gradient spikes)', floatArg(0), D.clipNorm)
    .option('--patience <n>', 'stop after this many epochs without a better validation loss', intArg(1), D.patience)
    .option('--lr-patience <n>', 'halve the learning rate after this many epochs without improvement', intArg(1), D.lrPatience)
    .option(
      '--warmup-steps <n>',
      'linear learning-rate warm-up over the first N steps (default: merge none, transformer one epoch)',
      intArg(0),
    )
    .option('--embedding-size <n>', 'word embedding size (merge/attention; the Keras tutorial: 256)', intArg(1))
    .option('--hidden-size <n>', `LSTM and dense size (merge: 256, the Keras tutorial's; attention: ${A.hiddenSize})`, intArg(1))
    .option('--attention-size <n>', `attention: width of the additive attention layer (${A.attentionSize})`, intArg(1))
    .option(
      '--projection-size <n>',
      `attention/transformer: project image channels to this width first (attention: ${A.projectionSize}; 0 = keep them)`,
      intArg(0),
    )
    .option(
      '--attention-penalty <w>',
      `attention: weight of the doubly-stochastic penalty (Show, Attend and Tell's lambda: ${A.attentionPenalty})`,
      floatArg(0),
    )
    .option('--layers <n>', `transformer: decoder layers (${T.layers})`, intArg(1))
    .option('--heads <n>', `transformer: attention heads (${T.heads})`, intArg(1))
    .option('--width <n>', `transformer: model width (${T.width})`, intArg(1))
    .option('--ffn-size <n>', `transformer: feed-forward width (${T.ffnFactor} x width)`, intArg(1))
    .option(
      '--dropout <rate>',
      'dropout rate (merge: on image vector and embeddings, as the Keras tutorial: 0.5; transformer: 0.1 on embeddings and sub-block outputs)',
      floatArg(0, 0.95),
      D.dropout,
    )
    .option(
      '--label-smoothing <eps>',
      'label smoothing of the training targets (reported losses stay plain)',
      floatArg(0, 0.5),
      D.labelSmoothing,
    )
    .addOption(
      new Option(
        '--features-dtype <type>',
        'number type of the image features: as held in memory (auto = float16 for spatial maps: half the memory, rounding far below dropout; float32 for pooled vectors)',
      )
        .choices(FEATURES_DTYPES)
        .default(D.featuresDtype),
    )
    .addOption(
      new Option(
        '--feature-store <where>',
        'where training reads the image features: memory (all rows loaded first), disk (each batch read from the feature cache, with read-ahead; memory stays flat), auto (memory when the rows fit --feature-memory-mb); same results either way',
      )
        .choices(FEATURE_STORE_CHOICES)
        .default(D.featureStore),
    )
    .option(
      '--feature-memory-mb <n>',
      'auto: the most memory the feature rows may take before they stay on disk (default: a quarter of RAM)',
      intArg(1),
    )
    .option(
      '--max-steps <n>',
      'stop after N training steps (batches) of this call and save a resumable checkpoint in <run>/train/last',
      intArg(1),
    )
    .option('--seed <n>', 'seed for weights, shuffling and dropout', intArg(0), D.seed)
    .option(
      '--replicas <n>',
      'tfjs engine: data-parallel gradient threads per step (default: one per core on WASM/cpu, 1 on native TensorFlow); changes speed, not results',
      intArg(1),
    )
    .option(
      '--keep-epochs <n>',
      'keep the weights of the last N epochs in <run>/train/epochs (for `capgen average`; 0 = none)',
      intArg(0),
      D.keepEpochs,
    )
    .option(
      '--checkpoint-every <minutes>',
      'also save a resumable <run>/train/last within an epoch every this many minutes (fractions allowed; 0 = only at epoch ends): what kill -9 can lose',
      floatArg(0),
      D.checkpointEveryMinutes,
    )
    .option(
      '--resume',
      'continue from <run>/train/last with its settings (only --epochs, --engine, --replicas, --checkpoint-every, --feature-store, --feature-memory-mb and --max-steps apply)',
      false,
    )
    .option(
      '--overwrite',
      'replace an earlier training in this run folder (without it, train refuses); the old one is deleted only once the new one has saved a checkpoint',
      false,
    )
    .option('--tensorboard <dir>', 'also write TensorBoard event files (Keras layout: <dir>/train, <dir>/validation); native backends only')
    .option('--json', 'print the final state as JSON on stdout')
    .addOption(backendOption())
    .action(async (opts, cmd: Command) => {
      // The decoder's own training defaults (e.g. the transformer's) where the flag was not given.
      const own = DECODERS[opts.decoder as DecoderName].trainingDefaults ?? {};
      const given = (key: string) => cmd.getOptionValueSource(key) === 'cli';
      const config: TrainConfig = {
        ...D,
        runDir: opts.run,
        backend: opts.backend,
        decoder: opts.decoder,
        engine: opts.engine,
        epochs: opts.epochs,
        batchSize: opts.batchSize,
        accumulate: opts.accumulate,
        learningRate: given('lr') ? opts.lr : opts.objective === 'scst' ? SCST_LEARNING_RATE : (own.learningRate ?? opts.lr),
        objective: opts.objective,
        scstSamples: opts.scstSamples,
        scstBaseline: opts.scstBaseline,
        initFrom: opts.initFrom,
        clipNorm: opts.clipNorm,
        patience: opts.patience,
        lrPatience: opts.lrPatience,
        warmupSteps: opts.warmupSteps, // unset: the decoder's warm-up epochs, in steps (src/train/run.ts)
        embeddingSize: opts.embeddingSize,
        hiddenSize: opts.hiddenSize,
        attentionSize: opts.attentionSize,
        projectionSize: opts.projectionSize,
        attentionPenalty: opts.attentionPenalty,
        layers: opts.layers,
        heads: opts.heads,
        width: opts.width,
        ffnSize: opts.ffnSize,
        dropout: given('dropout') ? opts.dropout : (own.dropout ?? opts.dropout),
        labelSmoothing: opts.labelSmoothing,
        seed: opts.seed,
        featuresDtype: opts.featuresDtype,
        featureStore: opts.featureStore,
        featureMemoryMb: opts.featureMemoryMb,
        maxSteps: opts.maxSteps,
        resume: opts.resume,
        keepEpochs: opts.keepEpochs,
        replicas: opts.replicas,
        tensorboardDir: opts.tensorboard,
        checkpointEveryMinutes: opts.checkpointEvery,
      };
      const cores = os.availableParallelism();
      if (opts.replicas > cores)
        warn(
          `--replicas ${opts.replicas} is more than the ${cores} cores here: each replica is a thread, so extra ones only slow training down`,
        );
      const { runTrain } = await import('../train/run.js'); // loaded on use: --help stays fast
      const r = await withRunLock(config.runDir, 'train', async () => {
        // scst from the run's own train/best: that training is kept (moved to train-xe/), not replaced.
        const keepCrossEntropyTraining = config.objective === 'scst' && !config.resume && config.initFrom === undefined;
        if (keepCrossEntropyTraining) await recoverInterruptedOverwrite(config.runDir);
        const replaceEarlierTraining = keepCrossEntropyTraining
          ? false
          : await guardTrainDir(config.runDir, { resume: config.resume, overwrite: opts.overwrite });
        return runTrain(config, { replaceEarlierTraining, keepCrossEntropyTraining });
      });
      if (opts.json) {
        result(
          JSON.stringify(
            {
              bestDir: r.bestDir,
              lastDir: r.lastDir,
              interrupted: r.interrupted,
              bestEpoch: r.state.bestEpoch,
              bestLoss: r.state.bestValLoss,
              ...(r.state.bestScore !== undefined ? { bestScore: r.state.bestScore } : {}),
              epochs: r.state.history,
            },
            null,
            2,
          ),
        );
      }
      if (r.interrupted)
        throw new Interrupted(
          stopRequested() ?? 'SIGINT',
          `train saved a resumable checkpoint in ${r.lastDir}; continue with \`capgen train --run ${config.runDir} --resume\``,
        );
    });
}
