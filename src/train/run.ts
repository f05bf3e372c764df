// `capgen train`: load the prepared run, build (or resume) a decoder (merge, attention or
// transformer), train it with the chosen engine (src/train/step.ts) and validation, keep best/ and
// last/ checkpoints and the history, stop cleanly on Ctrl-C.
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeBackend, initBackend, type BackendInfo } from '../backend/index.js';
import { CapgenError } from '../errors.js';
import { debug, formatSeconds, info, progressBar, type Progress } from '../log.js';
import {
  assertSameEncoder,
  assertSameTrainSplit,
  defaultCheckpointDir,
  lastCheckpointDir,
  readCheckpoint,
  saveCheckpoint,
  type CheckpointContent,
  type CheckpointMeta,
} from '../model/checkpoint.js';
import type { BaseSizes } from '../model/decoder.js';
import { DECODERS, decoderFor } from '../model/registry.js';
import { KEPT_EPOCHS_SUBDIR, runPath } from '../run/layout.js';
import { keepCrossEntropyTraining, KEPT_XE_TRAINING_DIR, replaceTraining, type ReplacedTraining } from '../run/overwrite.js';
import { heldImageCount, loadTrainingData, readPreparedRun, resolveFeaturesDtype, type OpenFeatures, type TrainingData } from './data.js';
import { defaultFeatureMemoryBytes, resolveFeatureStore } from './feature-store.js';
import { openCachedFeatures } from './features.js';
import { writeHistory } from './history.js';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from './config.js';
import { scstMicroBatch, startScst } from './scst.js';
import { openTensorBoard } from './keras-logs.js';
import { freshState, stepCaptions, trainLoop, type TrainState } from './loop.js';
import { assertTrainFits, availableMemory, type MemoryAvailable } from './memory.js';
import { FULL_BATCH_TIME_STEPS, ONNX_TIME_STEP_MULTIPLE, resolveEngine, startTrainingEngine } from './step.js';
import { onStopRequest, stopRequested } from '../util/signals.js';

export type { TrainConfig } from './config.js';

/** Native TensorFlow already spreads each op over every core; WASM and cpu need one replica per core. */
function resolveReplicas(requested: number | undefined, backend: BackendInfo): number {
  if (requested !== undefined) return requested;
  return backend.name === 'gpu' || backend.name === 'node' ? 1 : os.availableParallelism();
}

export interface TrainDeps {
  /** Feature cache opener (tests inject one). */
  openFeatures?: OpenFeatures;
  /** Stop request (tests); the CLI also stops on SIGINT. */
  shouldStop?: () => boolean;
  /**
   * `train/` holds an earlier training that --overwrite replaces (src/run/overwrite.ts guardTrainDir):
   * it is moved aside only after everything is validated, and deleted once this training has saved a checkpoint.
   */
  replaceEarlierTraining?: boolean;
  /** The memory training may use (tests); default: the cgroup limit or the machine's memory. */
  memory?: MemoryAvailable;
  /**
   * `--objective scst` from the run's own train/best: that training moves to <run>/train-xe once
   * everything is validated (src/run/overwrite.ts keepCrossEntropyTraining), back when nothing was saved.
   */
  keepCrossEntropyTraining?: boolean;
}

export interface TrainResult {
  state: TrainState;
  bestDir: string;
  lastDir: string;
  interrupted: boolean;
  historyPng: string;
}

function metaFor(ctx: {
  data: TrainingData;
  architecture: string;
  sizes: BaseSizes;
  config: TrainConfig;
  state: TrainState;
}): CheckpointContent['meta'] {
  const { data, sizes, config, state } = ctx;
  const last = state.history.at(-1);
  // Left out: where things are, and choices that change speed, memory or what a kill can lose, not the weights.
  const {
    runDir: _r,
    backend: _b,
    resume: _x,
    tensorboardDir: _t,
    checkpointEveryMinutes: _c,
    featureStore: _s,
    featureMemoryMb: _m,
    maxSteps: _n,
    initFrom: _i,
    ...trainConfig
  } = config;
  return {
    architecture: ctx.architecture,
    ...sizes,
    vocab: data.vocab,
    cleaning: data.prepare.cleaning,
    encoder: data.encoder,
    maxCaptionLength: data.prepare.maxCaptionLength,
    trainConfig,
    epoch: state.epoch,
    metrics: last ? (Object.fromEntries(Object.entries(last).filter(([, v]) => typeof v === 'number')) as Record<string, number>) : {},
    createdAt: new Date().toISOString(),
    trainState: state as unknown as Record<string, unknown>,
  };
}

export async function runTrain(config: TrainConfig, deps: TrainDeps = {}): Promise<TrainResult> {
  try {
    return await train(config, deps);
  } catch (e) {
    throw allocationError(e) ?? e;
  }
}

/**
 * An allocation that failed despite the estimate (other processes took the memory; an array the
 * estimate does not count): one line with what to lower, not a RangeError with a stack trace.
 */
export function allocationError(e: unknown): CapgenError | undefined {
  if (!(e instanceof RangeError) || !/Array buffer allocation failed|Invalid (typed )?array( buffer)? length/i.test(e.message))
    return undefined;
  return new CapgenError('USAGE', `training ran out of memory: ${e.message}`, {
    hint: "lower --batch-size or the decoder's sizes (--hidden-size, --embedding-size, ...), or use --features-dtype float16",
    cause: e,
  });
}

async function train(config: TrainConfig, deps: TrainDeps): Promise<TrainResult> {
  // Everything that can refuse this run is checked before the run folder is touched (an overwrite
  // moves the earlier training aside only after that): the backend, the flags, the checkpoint to
  // resume, the prepared data, the memory it needs, the model and its engine.
  // With several replicas each one is a core: one WASM thread apiece (an explicit 1 replica gets XNNPACK's pool).
  const backend = await initBackend(config.backend, config.replicas === 1 ? {} : { threads: 1 });
  config = { ...config, replicas: resolveReplicas(config.replicas, backend) };
  const tensorboard = config.tensorboardDir === undefined ? undefined : openTensorBoard(config.tensorboardDir, backend);
  const lastDir = lastCheckpointDir(config.runDir);

  let resumed: Awaited<ReturnType<typeof readCheckpoint>> | undefined;
  let spec = DECODERS[config.decoder];
  if (!spec)
    throw new CapgenError('USAGE', `unknown decoder '${config.decoder}'`, { hint: `choose one of ${Object.keys(DECODERS).join(', ')}` });
  if (config.resume) {
    if (!existsSync(lastDir) && existsSync(defaultCheckpointDir(config.runDir)))
      throw new CapgenError(
        'NOT_FOUND',
        'nothing to resume: this run has train/best but no train/last (the checkpoint with the optimizer state)',
        {
          file: lastDir,
          hint: 'start again with --overwrite, or train into another run folder',
        },
      );
    resumed = await readCheckpoint(lastDir);
    spec = decoderFor(resumed.meta.architecture) ?? spec; // readCheckpoint refuses unknown architectures
    if (!resumed.optimizer || !resumed.meta.trainState)
      throw new CapgenError('BAD_INPUT', 'this checkpoint has no optimizer state to resume from', {
        file: path.join(lastDir, 'checkpoint.json'),
      });
    // The plan of batches and dropout masks depend on these: keep the checkpoint's values.
    const saved = resumed.meta.trainConfig as Partial<TrainConfig>;
    // Replicas and engines change speed, not results (per-caption dropout masks): the current choice applies.
    config = {
      ...config,
      ...saved,
      accumulate: saved.accumulate ?? 1, // checkpoints from before --accumulate: one micro-batch per step
      epochs: config.epochs,
      runDir: config.runDir,
      backend: config.backend,
      replicas: config.replicas,
      engine: config.engine,
      tensorboardDir: config.tensorboardDir,
      checkpointEveryMinutes: config.checkpointEveryMinutes,
      featureStore: config.featureStore,
      featureMemoryMb: config.featureMemoryMb,
      maxSteps: config.maxSteps,
      resume: true,
    };
  }
  // Self-critical training starts from a trained checkpoint (read now: its decoder decides the rest).
  let init: Awaited<ReturnType<typeof readCheckpoint>> | undefined;
  let initDir: string | undefined;
  if (config.initFrom !== undefined && config.objective !== 'scst' && !config.resume)
    throw new CapgenError('USAGE', '--init-from names the checkpoint that --objective scst fine-tunes', {
      hint: 'add --objective scst (cross-entropy training starts from fresh weights, or --resume)',
    });
  if (config.objective === 'scst' && !config.resume) {
    ({ init, initDir } = await readScstStart(config, deps));
    spec = decoderFor(init.meta.architecture) ?? spec;
  }
  const prepared = await readPreparedRun(config.runDir, spec.features);
  const dataSizes = {
    vocabSize: prepared.vocab.tokens.length,
    featureShape: prepared.encoder.featureShape,
    dropout: config.dropout,
    maxLength: prepared.prepare.maxCaptionLength + 2,
  };
  // Self-critical steps run without dropout (src/train/scst.ts): the samples are drawn without it.
  const sizes = resumed
    ? spec.sizesFrom(resumed.meta as unknown as Record<string, unknown>)
    : init
      ? { ...spec.sizesFrom(init.meta as unknown as Record<string, unknown>), dropout: 0 }
      : spec.sizesFor(dataSizes, config);
  if (init && initDir)
    config = {
      ...config,
      // What the steps use (src/train/scst.ts), recorded as such.
      labelSmoothing: 0,
      dropout: 0,
      fineTunedFrom: {
        checkpoint: deps.keepCrossEntropyTraining ? `${KEPT_XE_TRAINING_DIR}/best` : path.resolve(initDir),
        epoch: init.meta.epoch,
        contentSha256: init.meta.contentSha256,
      },
    };
  // Before anything large is allocated (the feature matrix, the weights, the engine's arrays).
  const engineName = resolveEngine(config.engine, backend).name;
  const featuresDtype = resolveFeaturesDtype(config.featuresDtype ?? 'auto', prepared.encoder.featureShape);
  const heldRows = heldImageCount(prepared.prepare) ?? 0;
  const featureBytes = featuresDtype === 'float16' ? 2 : 4;
  const memoryBudgetBytes = config.featureMemoryMb === undefined ? undefined : config.featureMemoryMb * 2 ** 20;
  // Rows on disk take no memory: only the store that will hold them counts (the cache's reader is assumed).
  const featureStore = resolveFeatureStore(config.featureStore ?? 'auto', {
    matrixBytes: heldRows * prepared.encoder.featureShape.reduce((a, b) => a * b, 1) * featureBytes,
    budgetBytes: memoryBudgetBytes ?? defaultFeatureMemoryBytes(),
    budgetGiven: memoryBudgetBytes !== undefined,
    canReadRows: true,
  });
  assertTrainFits(
    {
      spec,
      sizes,
      batchSize: config.objective === 'scst' ? scstMicroBatch(config.batchSize) : config.batchSize,
      maxCaptionLength: prepared.prepare.maxCaptionLength,
      engine: engineName,
      replicas: config.replicas as number,
      featureRows: featureStore.kind === 'memory' ? heldRows : 0,
      featureBytes,
      fullBatchTimeSteps: FULL_BATCH_TIME_STEPS,
      timeStepMultiple: engineName === 'onnx' ? ONNX_TIME_STEP_MULTIPLE : 1,
    },
    { available: deps.memory ?? availableMemory(), rebuild: (options) => spec.sizesFor(dataSizes, options), options: config },
  );
  const data = await loadTrainingData(config.runDir, deps.openFeatures ?? openCachedFeatures, {
    layout: spec.features,
    dtype: config.featuresDtype,
    store: config.featureStore,
    memoryBudgetBytes,
    prepared,
  });
  try {
    return await trainOn(data, { config, spec, sizes, resumed, init, initDir, backend, deps, tensorboard });
  } finally {
    await data.features.close();
  }
}

interface TrainContext {
  config: TrainConfig;
  spec: NonNullable<ReturnType<typeof decoderFor>>;
  sizes: BaseSizes;
  resumed?: Awaited<ReturnType<typeof readCheckpoint>>;
  /** --objective scst (not resumed): the checkpoint it fine-tunes, and its folder. */
  init?: Awaited<ReturnType<typeof readCheckpoint>>;
  initDir?: string;
  backend: BackendInfo;
  deps: TrainDeps;
  tensorboard?: ReturnType<typeof openTensorBoard>;
}

/** Everything after loading the data (the caller closes its feature store). */
async function trainOn(data: TrainingData, ctx: TrainContext): Promise<TrainResult> {
  const { spec, sizes, resumed, init, backend, deps, tensorboard } = ctx;
  let config = ctx.config;
  const bestDir = defaultCheckpointDir(config.runDir);
  const lastDir = lastCheckpointDir(config.runDir);
  const trainDir = runPath(config.runDir, 'trainDir');
  if (resumed) {
    const metaFile = path.join(lastDir, 'checkpoint.json');
    assertSameEncoder(resumed.meta.encoder, data.encoder, metaFile);
    assertSameTrainSplit(resumed.meta, data.trainImages, metaFile);
    if (resumed.meta.vocabSize !== data.vocab.tokens.length || resumed.meta.featureSize !== data.featureSize) {
      throw new CapgenError(
        'MISMATCH',
        `the checkpoint's vocabulary (${resumed.meta.vocabSize}) or feature size (${resumed.meta.featureSize}) differs from the run's (${data.vocab.tokens.length}, ${data.featureSize})`,
        {
          file: metaFile,
          hint: 'resume with the run folder the checkpoint was trained on',
        },
      );
    }
  }
  if (init) assertScstStartFits(init.meta, data, path.join(ctx.initDir as string, 'checkpoint.json'));
  const scstRun = config.objective === 'scst';
  const state: TrainState = resumed ? (resumed.meta.trainState as unknown as TrainState) : freshState(config.learningRate);
  state.finished = false;
  const engine = await startTrainingEngine({
    choice: config.engine,
    backend,
    spec,
    sizes,
    initialWeights: resumed ? resumed.weights : init ? init.weights : spec.initialWeights(sizes, config.seed),
    adam: { learningRate: config.learningRate, clipNorm: config.clipNorm },
    data,
    // Self-critical steps train their samples in smaller micro-batches (src/train/scst.ts says why).
    batchSize: scstRun ? scstMicroBatch(config.batchSize) : config.batchSize,
    // Self-critical terms must be -log p: no smoothing.
    labelSmoothing: scstRun ? 0 : config.labelSmoothing,
    replicas: config.replicas as number,
  });
  const scst = scstRun
    ? startScst({
        engine,
        data,
        spec,
        sizes,
        samples: config.scstSamples ?? (DEFAULT_TRAIN_CONFIG.scstSamples as number),
        baseline: config.scstBaseline ?? 'mean',
      })
    : undefined;
  const optimizer = engine.optimizer;
  if (resumed?.optimizer) optimizer.setState(resumed.optimizer);
  info(`${describeBackend(backend)}; ${engine.description}`);

  const stepsPerEpoch = Math.ceil((scst ? scst.examples.length : data.train.length) / stepCaptions(config));
  // Warm-up unset (no --warmup-steps): the decoder's own, in epochs (the transformer's), else none.
  // Self-critical training fine-tunes: no warm-up unless asked for.
  if (config.warmupSteps === undefined)
    config = { ...config, warmupSteps: scst ? 0 : Math.round((spec.trainingDefaults?.warmupEpochs ?? 0) * stepsPerEpoch) };
  const fs = data.encoder.featureShape;
  const shape = fs.length === 1 ? `${fs[0]}-d` : fs.join('x');
  info(
    `train: decoder ${spec.architecture}, ${data.images.length} images, ${data.train.length} training / ${data.dev.length} dev captions, vocabulary ${sizes.vocabSize}, ` +
      `features ${shape} (${data.encoder.architecture}, held as ${data.features.dtype}), ${stepsPerEpoch} steps per epoch of ${config.accumulate && config.accumulate > 1 ? `${config.accumulate} x ` : ''}${config.batchSize}, ` +
      `lr ${config.learningRate}${config.warmupSteps ? ` after ${config.warmupSteps} warm-up steps` : ''}, dropout ${sizes.dropout}` +
      (resumed ? `, resuming after epoch ${state.epoch}${state.batch ? ` batch ${state.batch}` : ''}` : ''),
  );
  info(`train: feature store ${data.features.kind} (${data.featureStoreWhy})`);
  if (scst)
    info(
      `train: self-critical training (CIDEr-D reward, end token counted as a word) from ${config.fineTunedFrom?.checkpoint ?? 'the resumed checkpoint'}: ` +
        `${config.scstSamples} samples per image, baseline ${config.scstBaseline}, ${config.batchSize} images per step (trained in micro-batches of ${scstMicroBatch(config.batchSize)} samples); best/ chosen by dev CIDEr-D of greedy decoding`,
    );
  if (!data.dev.length) info(`train: no dev captions: the best checkpoint is chosen by ${scst ? 'mean reward' : 'training loss'}`);
  // Where self-critical training starts from, to compare its epochs with.
  if (scst && init && data.dev.length)
    info(`train: dev CIDEr-D of the checkpoint fine-tuned (greedy): ${(await scst.devScore())?.toFixed(4)}`);

  // SIGINT/SIGTERM (src/util/signals.ts): stop after this batch and save a resumable checkpoint.
  const unsubscribe = onStopRequest(
    (_signal, again) => again || process.stderr.write('train: stopping after this batch and saving a resumable checkpoint\n'),
  );
  let bar: Progress | undefined;
  let historyPng = path.join(trainDir, 'history.png');
  let interrupted = false;
  let replaced: ReplacedTraining | undefined;
  let firstStepAt: number | undefined; // performance.now() when this call's first step began
  const meta = (s: TrainState) => metaFor({ data, architecture: spec.architecture, sizes, config, state: s });
  const trainImages = data.trainImages;
  // Every checkpoint is saved through here: the first one lets an overwrite delete the earlier training.
  const save = async (dir: string, content: Parameters<typeof saveCheckpoint>[1]) => {
    await saveCheckpoint(dir, content);
    await replaced?.commit();
  };
  // --checkpoint-every: a timed save within an epoch is exactly the save of a stop (Ctrl-C) at that batch.
  const checkpointEveryMs = (config.checkpointEveryMinutes ?? 0) * 60_000;
  let lastSavedMs = performance.now();
  const saveLast = async () => {
    await save(lastDir, { meta: meta(state), weights: engine.weights(), optimizer: optimizer.getState(), trainImages });
    lastSavedMs = performance.now();
  };
  try {
    if (deps.replaceEarlierTraining) replaced = await replaceTraining(config.runDir);
    else if (deps.keepCrossEntropyTraining) replaced = await keepCrossEntropyTraining(config.runDir);
    await trainLoop({
      replicas: engine,
      optimizer,
      data,
      config,
      state,
      ...(scst ? { objective: scst } : {}),
      hooks: {
        onEpochStart: (epoch, batches, start) => {
          firstStepAt ??= performance.now();
          bar = progressBar(
            batches,
            `epoch ${epoch + 1}/${config.epochs} [{bar}] {value}/{total} | loss {loss} | acc {acc} | {sps} captions/s | ETA {eta_formatted}`,
          );
          bar.update(start, { loss: '-', acc: '-', sps: '-' });
        },
        onProgress: (p) =>
          bar?.update(p.batch, { loss: p.loss.toFixed(4), acc: p.accuracy.toFixed(3), sps: p.samplesPerSecond.toFixed(0) }),
        shouldStop: () => stopRequested() !== undefined || (deps.shouldStop?.() ?? false),
        checkpointDue: () => checkpointEveryMs > 0 && performance.now() - lastSavedMs >= checkpointEveryMs,
        onCheckpoint: async (s) => {
          await saveLast();
          debug(`train: saved a resumable checkpoint after epoch ${s.epoch} + ${s.batch} batches in ${lastDir}`);
        },
        onEpochEnd: async (r, s, improved) => {
          bar?.stop();
          const val =
            (r.valLoss === null ? 'no dev split' : `val loss ${r.valLoss.toFixed(4)} acc ${(r.valAccuracy ?? 0).toFixed(3)}`) +
            (r.meanReward === undefined ? '' : ` | mean reward ${r.meanReward.toFixed(4)}`) +
            (r.devCiderD === undefined ? '' : ` | dev CIDEr-D ${r.devCiderD.toFixed(4)}`);
          info(
            `epoch ${r.epoch}/${config.epochs}: train loss ${r.trainLoss.toFixed(4)} acc ${r.trainAccuracy.toFixed(3)} | ${val} | lr ${r.learningRate.toExponential(2)} | ` +
              `${formatSeconds(r.seconds)}, ${r.samplesPerSecond.toFixed(0)} captions/s${improved ? ' | best' : ''}${s.finished ? ' | early stop' : ''}`,
          );
          // This epoch's weights without the optimizer: for decoding (best/) and averaging (epochs/).
          const weightsOnly = { meta: { ...meta(s), trainState: undefined }, weights: engine.weights(), trainImages };
          if (improved) await save(bestDir, weightsOnly);
          if (config.keepEpochs) await keepEpoch(trainDir, r.epoch, config.keepEpochs, weightsOnly);
          await saveLast();
          historyPng = (await writeHistory(trainDir, s.history)).png;
          tensorboard?.write(r);
        },
        onInterrupt: async (s, reason) => {
          bar?.stop();
          // --max-steps is a stop that was asked for: not an interruption (exit 0).
          interrupted = reason === 'signal';
          await saveLast();
          info(
            `train: stopped after epoch ${s.epoch}${s.batch ? ` + ${s.batch} batches` : ''}${reason === 'max-steps' ? ` (--max-steps ${config.maxSteps})` : ''}; resume with \`capgen train --run ${config.runDir} --resume\``,
          );
          if (reason === 'max-steps') {
            // The rate of the steps themselves (validation and checkpoints of crossed epochs included), without loading.
            const seconds = (performance.now() - (firstStepAt ?? performance.now())) / 1000;
            info(
              `train: ${config.maxSteps} steps in ${seconds.toFixed(1)} s = ${((config.maxSteps ?? 0) / Math.max(seconds, 1e-9)).toFixed(3)} steps/s`,
            );
          }
        },
      },
    });
  } catch (e) {
    // Nothing of the new training was saved: the earlier one goes back (a no-op once committed).
    await replaced?.restore();
    throw e;
  } finally {
    bar?.stop();
    scst?.dispose();
    await engine.close();
    unsubscribe();
  }
  if (!interrupted)
    info(
      `train: best epoch ${state.bestEpoch ?? '-'} (${scst ? `${data.dev.length ? 'dev CIDEr-D' : 'mean reward'} ${state.bestScore?.toFixed(4) ?? '-'}` : `loss ${state.bestValLoss?.toFixed(4) ?? '-'}`}), checkpoints in ${bestDir} and ${lastDir}, curves in ${historyPng}`,
    );
  return { state, bestDir, lastDir, interrupted, historyPng };
}

/** `--objective scst` (not resumed): the checkpoint it fine-tunes, refused before anything is touched. */
async function readScstStart(
  config: TrainConfig,
  deps: TrainDeps,
): Promise<{ init: Awaited<ReturnType<typeof readCheckpoint>>; initDir: string }> {
  const samples = config.scstSamples ?? (DEFAULT_TRAIN_CONFIG.scstSamples as number);
  if (!Number.isInteger(samples) || samples < 1)
    throw new CapgenError('USAGE', `--scst-samples must be a whole number of 1 or more, got ${samples}`, {
      hint: 'self-critical training samples K captions per image (default 5)',
    });
  if ((config.scstBaseline ?? 'mean') === 'mean' && samples < 2)
    throw new CapgenError('USAGE', '--scst-baseline mean needs --scst-samples 2 or more (the baseline is the mean of the other samples)', {
      hint: 'raise --scst-samples, or use --scst-baseline greedy',
    });
  const initDir = config.initFrom ?? defaultCheckpointDir(config.runDir);
  if (deps.keepCrossEntropyTraining && existsSync(path.join(config.runDir, KEPT_XE_TRAINING_DIR)))
    throw new CapgenError(
      'USAGE',
      `this run already keeps a cross-entropy training in ${KEPT_XE_TRAINING_DIR}/, which self-critical training would replace`,
      {
        file: path.join(config.runDir, KEPT_XE_TRAINING_DIR),
        hint: `fine-tune it again with --init-from ${path.join(config.runDir, KEPT_XE_TRAINING_DIR, 'best')} --overwrite, or --resume the self-critical training`,
      },
    );
  if (!existsSync(path.join(initDir, 'checkpoint.json')))
    throw new CapgenError('NOT_FOUND', `--objective scst fine-tunes a trained checkpoint, and ${initDir} holds none`, {
      file: initDir,
      hint: config.initFrom
        ? 'give --init-from a checkpoint folder (one with checkpoint.json, e.g. <run>/train/best)'
        : 'train with cross-entropy first (`capgen train` without --objective), or name a checkpoint with --init-from',
    });
  const init = await readCheckpoint(initDir);
  if (config.initFrom === undefined && init.meta.trainConfig.objective === 'scst')
    throw new CapgenError('USAGE', "this run's train/best is already a self-critical training", {
      file: path.join(initDir, 'checkpoint.json'),
      hint: 'continue it with --resume, or fine-tune a checkpoint of your choice with --init-from DIR --overwrite',
    });
  return { init, initDir };
}

/** The checkpoint to fine-tune must fit the run: its vocabulary, encoder and training split. */
function assertScstStartFits(meta: CheckpointMeta, data: TrainingData, metaFile: string): void {
  assertSameEncoder(meta.encoder, data.encoder, metaFile);
  if (JSON.stringify(meta.vocab.tokens) !== JSON.stringify(data.vocab.tokens))
    throw new CapgenError(
      'MISMATCH',
      `the checkpoint to fine-tune has another vocabulary (${meta.vocab.tokens.length} words) than the run's (${data.vocab.tokens.length})`,
      { file: metaFile, hint: 'fine-tune a checkpoint trained on this run folder (or one prepared with the same vocabulary)' },
    );
  if (meta.featureSize !== data.featureSize)
    throw new CapgenError('MISMATCH', `the checkpoint's feature size (${meta.featureSize}) differs from the run's (${data.featureSize})`, {
      file: metaFile,
      hint: 'fine-tune a checkpoint trained on these features',
    });
  assertSameTrainSplit(meta, data.trainImages, metaFile);
}

/** Saves this epoch's weights in <train>/epochs/epoch-NNN and removes the epochs before the last `keep`. */
async function keepEpoch(trainDir: string, epoch: number, keep: number, content: Parameters<typeof saveCheckpoint>[1]): Promise<void> {
  const dir = path.join(trainDir, KEPT_EPOCHS_SUBDIR);
  await saveCheckpoint(path.join(dir, epochDirName(epoch)), content);
  const kept = (await fsp.readdir(dir)).filter((name) => /^epoch-\d+$/.test(name)).sort((a, b) => Number(a.slice(6)) - Number(b.slice(6))); // by number: epoch-1000 comes after epoch-999
  for (const old of kept.slice(0, Math.max(0, kept.length - keep))) await fsp.rm(path.join(dir, old), { recursive: true, force: true });
}

/** epoch-007: zero-padded so that a listing shows the folders in epoch order (up to 999). */
export const epochDirName = (epoch: number) => `epoch-${String(epoch).padStart(3, '0')}`;
