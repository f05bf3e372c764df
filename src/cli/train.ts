// `capgen train`: flags -> TrainConfig -> runTrain.
import { Command } from 'commander';
import { result } from '../log.js';
import { DEFAULT_RUN_DIR } from '../run/layout.js';
import { runTrain, type TrainConfig } from '../train/run.js';
import { backendOption, floatArg, intArg } from './options.js';

export function trainCommand(): Command {
  return new Command('train')
    .description('train the merge-LSTM caption decoder on the cached image features of a prepared run')
    .option('--run <dir>', 'run folder written by `capgen prepare`', DEFAULT_RUN_DIR)
    .option('--epochs <n>', 'maximum epochs (the Keras tutorial trains 20)', intArg(1), 20)
    // 128: on Flickr8k it reaches the same best validation loss as 64 (2.875 vs 2.877) in ~25% less
    // time per epoch (larger matrix products, half the optimizer updates); see bench/README.md.
    .option('--batch-size <n>', 'captions per batch (128: the validation loss of 64 in ~25% less time)', intArg(1), 128)
    .option('--lr <rate>', 'Adam learning rate (Keras default)', floatArg(0), 1e-3)
    .option('--clip-norm <n>', 'clip gradients to this global norm, 0 = off (guards LSTM gradient spikes)', floatArg(0), 5)
    .option('--patience <n>', 'stop after this many epochs without a better validation loss', intArg(1), 4)
    .option('--lr-patience <n>', 'halve the learning rate after this many epochs without improvement', intArg(1), 2)
    .option('--embedding-size <n>', 'word embedding size (the Keras tutorial: 256)', intArg(1), 256)
    .option('--hidden-size <n>', 'LSTM and dense size (the Keras tutorial: 256)', intArg(1), 256)
    .option('--dropout <rate>', 'dropout on image vector and embeddings (the Keras tutorial: 0.5)', floatArg(0, 0.95), 0.5)
    .option('--seed <n>', 'seed for weights, shuffling and dropout', intArg(0), 1)
    .option('--replicas <n>', 'data-parallel gradient threads per step (default: one per core on WASM/cpu, 1 on native TensorFlow); changes speed, not results', intArg(1))
    .option('--tensorboard <dir>', 'also write TensorBoard event files (Keras layout: <dir>/train, <dir>/validation); native backends only')
    .option('--resume', "continue from <run>/train/last with its settings (only --epochs and --replicas apply)", false)
    .option('--json', 'print the final state as JSON on stdout')
    .addOption(backendOption())
    .action(async (opts) => {
      const config: TrainConfig = {
        runDir: opts.run,
        backend: opts.backend,
        epochs: opts.epochs,
        batchSize: opts.batchSize,
        learningRate: opts.lr,
        clipNorm: opts.clipNorm,
        patience: opts.patience,
        lrPatience: opts.lrPatience,
        lrFactor: 0.5, // halving: the usual ReduceLROnPlateau choice
        minLearningRate: 1e-5, // below this Adam's steps are noise for this model
        embeddingSize: opts.embeddingSize,
        hiddenSize: opts.hiddenSize,
        dropout: opts.dropout,
        seed: opts.seed,
        resume: opts.resume,
        replicas: opts.replicas,
        tensorboardDir: opts.tensorboard,
        logEveryBatches: 5, // progress redraws are cheap; every batch would only add flicker
      };
      const r = await runTrain(config);
      if (opts.json) {
        result(JSON.stringify({ bestDir: r.bestDir, lastDir: r.lastDir, interrupted: r.interrupted, bestEpoch: r.state.bestEpoch, bestLoss: r.state.bestValLoss, epochs: r.state.history }, null, 2));
      }
    });
}
