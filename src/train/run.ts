// `capgen train`: load the prepared run, build (or resume) the merge-LSTM decoder, train with
// validation, keep best/ and last/ checkpoints and the history, stop cleanly on Ctrl-C.
import os from 'node:os';
import path from 'node:path';
import { describeBackend, initBackend, type BackendChoice, type BackendInfo } from '../backend/index.js';
import { CapgenError } from '../errors.js';
import { formatSeconds, info, progressBar, type Progress } from '../log.js';
import { assertSameEncoder, defaultCheckpointDir, lastCheckpointDir, readCheckpoint, saveCheckpoint, type CheckpointMeta } from '../model/checkpoint.js';
import { MergeLstm, initialWeights, type MergeLstmSizes } from '../model/merge-lstm.js';
import { runPath } from '../run/layout.js';
import { Adam } from './adam.js';
import { loadTrainingData, type OpenFeatures, type TrainingData } from './data.js';
import { openCachedFeatures } from './features.js';
import { writeHistory } from './history.js';
import { openTensorBoard } from './keras-logs.js';
import { freshState, trainLoop, type LoopConfig, type TrainState } from './loop.js';
import { startReplicas, type Replicas } from './replicas.js';

export interface TrainConfig extends LoopConfig {
  runDir: string;
  backend: BackendChoice;
  learningRate: number;
  clipNorm: number;
  embeddingSize: number;
  hiddenSize: number;
  dropout: number;
  resume: boolean;
  /** Gradient replicas (threads) per step; undefined = one per core on WASM/cpu, 1 on native TensorFlow. */
  replicas?: number;
  /** TensorBoard event files here (native backends only); a log choice, never saved with the checkpoint. */
  tensorboardDir?: string;
}

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

function metaFor(data: TrainingData, sizes: MergeLstmSizes, config: TrainConfig, state: TrainState): Omit<CheckpointMeta, 'weights' | 'format' | 'architecture'> {
  const last = state.history.at(-1);
  const { runDir: _r, backend: _b, resume: _x, tensorboardDir: _t, ...trainConfig } = config;
  return {
    ...sizes,
    vocab: data.vocab,
    cleaning: data.prepare.cleaning,
    encoder: data.encoder,
    maxCaptionLength: data.prepare.maxCaptionLength,
    trainConfig,
    epoch: state.epoch,
    metrics: last
      ? Object.fromEntries(Object.entries(last).filter(([, v]) => typeof v === 'number')) as Record<string, number>
      : {},
    createdAt: new Date().toISOString(),
    trainState: state as unknown as Record<string, unknown>,
  };
}

export async function runTrain(config: TrainConfig, deps: TrainDeps = {}): Promise<TrainResult> {
  // With several replicas each one is a core: one WASM thread apiece (an explicit 1 replica gets XNNPACK's pool).
  const backend = await initBackend(config.backend, config.replicas === 1 ? {} : { threads: 1 });
  config = { ...config, replicas: resolveReplicas(config.replicas, backend) };
  info(`${describeBackend(backend)}, ${config.replicas} gradient replica${config.replicas === 1 ? '' : 's'}`);
  const tensorboard = config.tensorboardDir === undefined ? undefined : openTensorBoard(config.tensorboardDir, backend);
  const data = await loadTrainingData(config.runDir, deps.openFeatures ?? openCachedFeatures);
  const bestDir = defaultCheckpointDir(config.runDir);
  const lastDir = lastCheckpointDir(config.runDir);
  const trainDir = runPath(config.runDir, 'trainDir');

  let resumed: Awaited<ReturnType<typeof readCheckpoint>> | undefined;
  if (config.resume) {
    resumed = await readCheckpoint(lastDir);
    const metaFile = path.join(lastDir, 'checkpoint.json');
    assertSameEncoder(resumed.meta.encoder, data.encoder, metaFile);
    if (resumed.meta.vocabSize !== data.vocab.tokens.length || resumed.meta.featureSize !== data.featureSize) {
      throw new CapgenError('MISMATCH', `the checkpoint's vocabulary (${resumed.meta.vocabSize}) or feature size (${resumed.meta.featureSize}) differs from the run's (${data.vocab.tokens.length}, ${data.featureSize})`, {
        file: metaFile,
        hint: 'resume with the run folder the checkpoint was trained on',
      });
    }
    if (!resumed.optimizer || !resumed.meta.trainState) throw new CapgenError('BAD_INPUT', 'this checkpoint has no optimizer state to resume from', { file: metaFile });
    // The plan of batches and dropout masks depend on these: keep the checkpoint's values.
    const saved = resumed.meta.trainConfig as Partial<TrainConfig>;
    // Replicas change speed, not results (per-caption dropout masks): the current choice applies.
    config = { ...config, ...saved, epochs: config.epochs, runDir: config.runDir, backend: config.backend, replicas: config.replicas, tensorboardDir: config.tensorboardDir, resume: true };
  }
  const sizes: MergeLstmSizes = resumed
    ? { vocabSize: resumed.meta.vocabSize, embeddingSize: resumed.meta.embeddingSize, hiddenSize: resumed.meta.hiddenSize, featureSize: resumed.meta.featureSize, dropout: resumed.meta.dropout }
    : { vocabSize: data.vocab.tokens.length, embeddingSize: config.embeddingSize, hiddenSize: config.hiddenSize, featureSize: data.featureSize, dropout: config.dropout };
  const model = new MergeLstm(sizes, resumed ? resumed.weights : initialWeights(sizes, config.seed));
  const optimizer = new Adam(model.variables, { learningRate: config.learningRate, clipNorm: config.clipNorm });
  const state: TrainState = resumed ? (resumed.meta.trainState as unknown as TrainState) : freshState(config.learningRate);
  if (resumed?.optimizer) optimizer.setState(resumed.optimizer);
  state.finished = false;

  const stepsPerEpoch = Math.ceil(data.train.length / config.batchSize);
  info(
    `train: ${data.images.length} images, ${data.train.length} training / ${data.dev.length} dev captions, vocabulary ${sizes.vocabSize}, ` +
      `features ${sizes.featureSize}-d (${data.encoder.architecture}), ${stepsPerEpoch} steps per epoch of ${config.batchSize}` +
      (resumed ? `, resuming after epoch ${state.epoch}${state.batch ? ` batch ${state.batch}` : ''}` : ''),
  );
  if (!data.dev.length) info('train: no dev captions: the best checkpoint is chosen by training loss');

  let stopRequested = false;
  let signals = 0;
  const onSigint = () => {
    signals++;
    if (signals === 1) {
      stopRequested = true;
      process.stderr.write('\ntrain: stopping after this batch and saving a resumable checkpoint (Ctrl-C again to abort)\n');
    } else {
      process.off('SIGINT', onSigint);
      process.kill(process.pid, 'SIGINT');
    }
  };
  process.on('SIGINT', onSigint);
  let bar: Progress | undefined;
  let historyPng = path.join(trainDir, 'history.png');
  let interrupted = false;
  let replicas: Replicas | undefined;
  const saveLast = () => saveCheckpoint(lastDir, { meta: metaFor(data, sizes, config, state), weights: model.getWeights(), optimizer: optimizer.getState() });
  try {
    replicas = await startReplicas({ count: config.replicas as number, backend: backend.name, model, optimizer, data });
    await trainLoop({
      replicas,
      optimizer,
      data,
      config,
      state,
      hooks: {
        onEpochStart: (epoch, batches, start) => {
          bar = progressBar(batches, `epoch ${epoch + 1}/${config.epochs} [{bar}] {value}/{total} | loss {loss} | acc {acc} | {sps} captions/s | ETA {eta_formatted}`);
          bar.update(start, { loss: '-', acc: '-', sps: '-' });
        },
        onProgress: (p) => bar?.update(p.batch, { loss: p.loss.toFixed(4), acc: p.accuracy.toFixed(3), sps: p.samplesPerSecond.toFixed(0) }),
        shouldStop: () => stopRequested || (deps.shouldStop?.() ?? false),
        onEpochEnd: async (r, s, improved) => {
          bar?.stop();
          const val = r.valLoss === null ? 'no dev split' : `val loss ${r.valLoss.toFixed(4)} acc ${(r.valAccuracy ?? 0).toFixed(3)}`;
          info(
            `epoch ${r.epoch}/${config.epochs}: train loss ${r.trainLoss.toFixed(4)} acc ${r.trainAccuracy.toFixed(3)} | ${val} | lr ${r.learningRate.toExponential(2)} | ` +
              `${formatSeconds(r.seconds)}, ${r.samplesPerSecond.toFixed(0)} captions/s${improved ? ' | best' : ''}${s.finished ? ' | early stop' : ''}`,
          );
          if (improved) await saveCheckpoint(bestDir, { meta: { ...metaFor(data, sizes, config, s), trainState: undefined }, weights: model.getWeights() });
          await saveLast();
          historyPng = (await writeHistory(trainDir, s.history)).png;
          tensorboard?.write(r);
        },
        onInterrupt: async (s) => {
          bar?.stop();
          interrupted = true;
          await saveLast();
          info(`train: stopped after epoch ${s.epoch}${s.batch ? ` + ${s.batch} batches` : ''}; resume with \`capgen train --run ${config.runDir} --resume\``);
        },
      },
    });
  } finally {
    bar?.stop();
    await replicas?.close();
    process.off('SIGINT', onSigint);
    optimizer.dispose();
    model.dispose();
  }
  if (!interrupted) info(`train: best epoch ${state.bestEpoch ?? '-'} (loss ${state.bestValLoss?.toFixed(4) ?? '-'}), checkpoints in ${bestDir} and ${lastDir}, curves in ${historyPng}`);
  return { state, bestDir, lastDir, interrupted, historyPng };
}
