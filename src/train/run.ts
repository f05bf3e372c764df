// `capgen train`: load the prepared run, build (or resume) a decoder (merge, attention or
// transformer), train it with the chosen engine (src/train/step.ts) and validation, keep best/ and
// last/ checkpoints and the history, stop cleanly on Ctrl-C.
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeBackend, initBackend, type BackendInfo } from '../backend/index.js';
import { CapgenError } from '../errors.js';
import { formatSeconds, info, progressBar, type Progress } from '../log.js';
import {
  assertSameEncoder,
  assertSameTrainSplit,
  defaultCheckpointDir,
  lastCheckpointDir,
  readCheckpoint,
  saveCheckpoint,
  type CheckpointContent,
} from '../model/checkpoint.js';
import type { BaseSizes } from '../model/decoder.js';
import { DECODERS, decoderFor } from '../model/registry.js';
import { runPath } from '../run/layout.js';
import { loadTrainingData, type OpenFeatures, type TrainingData } from './data.js';
import { openCachedFeatures } from './features.js';
import { writeHistory } from './history.js';
import type { TrainConfig } from './config.js';
import { openTensorBoard } from './keras-logs.js';
import { freshState, trainLoop, type TrainState } from './loop.js';
import { startTrainingEngine } from './step.js';
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
  const { runDir: _r, backend: _b, resume: _x, tensorboardDir: _t, ...trainConfig } = config;
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
  // With several replicas each one is a core: one WASM thread apiece (an explicit 1 replica gets XNNPACK's pool).
  const backend = await initBackend(config.backend, config.replicas === 1 ? {} : { threads: 1 });
  config = { ...config, replicas: resolveReplicas(config.replicas, backend) };
  const tensorboard = config.tensorboardDir === undefined ? undefined : openTensorBoard(config.tensorboardDir, backend);
  const bestDir = defaultCheckpointDir(config.runDir);
  const lastDir = lastCheckpointDir(config.runDir);
  const trainDir = runPath(config.runDir, 'trainDir');

  let resumed: Awaited<ReturnType<typeof readCheckpoint>> | undefined;
  let spec = DECODERS[config.decoder];
  if (!spec)
    throw new CapgenError('USAGE', `unknown decoder '${config.decoder}'`, { hint: `choose one of ${Object.keys(DECODERS).join(', ')}` });
  if (config.resume) {
    if (!existsSync(lastDir) && existsSync(bestDir))
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
      epochs: config.epochs,
      runDir: config.runDir,
      backend: config.backend,
      replicas: config.replicas,
      engine: config.engine,
      tensorboardDir: config.tensorboardDir,
      resume: true,
    };
  }
  const data = await loadTrainingData(config.runDir, deps.openFeatures ?? openCachedFeatures, {
    layout: spec.features,
    dtype: config.featuresDtype,
  });
  const dataSizes = {
    vocabSize: data.vocab.tokens.length,
    featureShape: data.encoder.featureShape,
    dropout: config.dropout,
    maxLength: data.prepare.maxCaptionLength + 2,
  };
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
  const sizes = resumed ? spec.sizesFrom(resumed.meta as unknown as Record<string, unknown>) : spec.sizesFor(dataSizes, config);
  const state: TrainState = resumed ? (resumed.meta.trainState as unknown as TrainState) : freshState(config.learningRate);
  state.finished = false;
  const engine = await startTrainingEngine({
    choice: config.engine,
    backend,
    spec,
    sizes,
    initialWeights: resumed ? resumed.weights : spec.initialWeights(sizes, config.seed),
    adam: { learningRate: config.learningRate, clipNorm: config.clipNorm },
    data,
    batchSize: config.batchSize,
    labelSmoothing: config.labelSmoothing,
    replicas: config.replicas as number,
  });
  const optimizer = engine.optimizer;
  if (resumed?.optimizer) optimizer.setState(resumed.optimizer);
  info(`${describeBackend(backend)}; ${engine.description}`);

  const stepsPerEpoch = Math.ceil(data.train.length / config.batchSize);
  // Warm-up unset (no --warmup-steps): the decoder's own, in epochs (the transformer's), else none.
  if (config.warmupSteps === undefined)
    config = { ...config, warmupSteps: Math.round((spec.trainingDefaults?.warmupEpochs ?? 0) * stepsPerEpoch) };
  const fs = data.encoder.featureShape;
  const shape = fs.length === 1 ? `${fs[0]}-d` : fs.join('x');
  info(
    `train: decoder ${spec.architecture}, ${data.images.length} images, ${data.train.length} training / ${data.dev.length} dev captions, vocabulary ${sizes.vocabSize}, ` +
      `features ${shape} (${data.encoder.architecture}, held as ${data.features instanceof Uint16Array ? 'float16' : 'float32'}), ${stepsPerEpoch} steps per epoch of ${config.batchSize}, ` +
      `lr ${config.learningRate}${config.warmupSteps ? ` after ${config.warmupSteps} warm-up steps` : ''}, dropout ${config.dropout}` +
      (resumed ? `, resuming after epoch ${state.epoch}${state.batch ? ` batch ${state.batch}` : ''}` : ''),
  );
  if (!data.dev.length) info('train: no dev captions: the best checkpoint is chosen by training loss');

  // SIGINT/SIGTERM (src/util/signals.ts): stop after this batch and save a resumable checkpoint.
  const unsubscribe = onStopRequest(
    (_signal, again) => again || process.stderr.write('train: stopping after this batch and saving a resumable checkpoint\n'),
  );
  let bar: Progress | undefined;
  let historyPng = path.join(trainDir, 'history.png');
  let interrupted = false;
  const meta = (s: TrainState) => metaFor({ data, architecture: spec.architecture, sizes, config, state: s });
  const trainImages = data.trainImages;
  const saveLast = () =>
    saveCheckpoint(lastDir, { meta: meta(state), weights: engine.weights(), optimizer: optimizer.getState(), trainImages });
  try {
    await trainLoop({
      replicas: engine,
      optimizer,
      data,
      config,
      state,
      hooks: {
        onEpochStart: (epoch, batches, start) => {
          bar = progressBar(
            batches,
            `epoch ${epoch + 1}/${config.epochs} [{bar}] {value}/{total} | loss {loss} | acc {acc} | {sps} captions/s | ETA {eta_formatted}`,
          );
          bar.update(start, { loss: '-', acc: '-', sps: '-' });
        },
        onProgress: (p) =>
          bar?.update(p.batch, { loss: p.loss.toFixed(4), acc: p.accuracy.toFixed(3), sps: p.samplesPerSecond.toFixed(0) }),
        shouldStop: () => stopRequested() !== undefined || (deps.shouldStop?.() ?? false),
        onEpochEnd: async (r, s, improved) => {
          bar?.stop();
          const val = r.valLoss === null ? 'no dev split' : `val loss ${r.valLoss.toFixed(4)} acc ${(r.valAccuracy ?? 0).toFixed(3)}`;
          info(
            `epoch ${r.epoch}/${config.epochs}: train loss ${r.trainLoss.toFixed(4)} acc ${r.trainAccuracy.toFixed(3)} | ${val} | lr ${r.learningRate.toExponential(2)} | ` +
              `${formatSeconds(r.seconds)}, ${r.samplesPerSecond.toFixed(0)} captions/s${improved ? ' | best' : ''}${s.finished ? ' | early stop' : ''}`,
          );
          // This epoch's weights without the optimizer: for decoding (best/) and averaging (epochs/).
          const weightsOnly = { meta: { ...meta(s), trainState: undefined }, weights: engine.weights(), trainImages };
          if (improved) await saveCheckpoint(bestDir, weightsOnly);
          if (config.keepEpochs) await keepEpoch(trainDir, r.epoch, config.keepEpochs, weightsOnly);
          await saveLast();
          historyPng = (await writeHistory(trainDir, s.history)).png;
          tensorboard?.write(r);
        },
        onInterrupt: async (s) => {
          bar?.stop();
          interrupted = true;
          await saveLast();
          info(
            `train: stopped after epoch ${s.epoch}${s.batch ? ` + ${s.batch} batches` : ''}; resume with \`capgen train --run ${config.runDir} --resume\``,
          );
        },
      },
    });
  } finally {
    bar?.stop();
    await engine.close();
    unsubscribe();
  }
  if (!interrupted)
    info(
      `train: best epoch ${state.bestEpoch ?? '-'} (loss ${state.bestValLoss?.toFixed(4) ?? '-'}), checkpoints in ${bestDir} and ${lastDir}, curves in ${historyPng}`,
    );
  return { state, bestDir, lastDir, interrupted, historyPng };
}

/** Saves this epoch's weights in <train>/epochs/epoch-NNN and removes the epochs before the last `keep`. */
async function keepEpoch(trainDir: string, epoch: number, keep: number, content: Parameters<typeof saveCheckpoint>[1]): Promise<void> {
  const dir = path.join(trainDir, EPOCHS_DIR);
  await saveCheckpoint(path.join(dir, epochDirName(epoch)), content);
  const kept = (await fsp.readdir(dir)).filter((name) => /^epoch-\d+$/.test(name)).sort((a, b) => Number(a.slice(6)) - Number(b.slice(6))); // by number: epoch-1000 comes after epoch-999
  for (const old of kept.slice(0, Math.max(0, kept.length - keep))) await fsp.rm(path.join(dir, old), { recursive: true, force: true });
}

const EPOCHS_DIR = 'epochs';
/** epoch-007: zero-padded so that a listing shows the folders in epoch order (up to 999). */
export const epochDirName = (epoch: number) => `epoch-${String(epoch).padStart(3, '0')}`;
