// Benchmark: one training epoch of capgen's merge-LSTM decoder at Flickr8k size (the same batches,
// model and Adam update as `capgen train`) followed by validation on the dev captions, as `capgen train`
// does each epoch; its peak RSS; and the same epoch in PyTorch (bench/train_torch.py, on OpenBLAS, on the
// very same data) as a ratio. Uses a prepared run when given (--run DIR, default /work/runs/p8k-mobilenet
// or /tmp/p8k-mobilenet when present), else synthetic Flickr8k-sized features and captions.
// Usage: node bench/train.mjs [--run DIR] [--captions 30000] [--vocab 2535] [--steps N] [--batch 128]
//        [--engine auto|onnx|tfjs] [--replicas N] [--no-torch | --no-capgen] [--torch-threads 1,2] [--no-validate] [--synthetic]
// Numbers and how to read them: bench/README.md (train).
import os from 'node:os';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../dist/backend/index.js';
import { describePeer, ensureTorchPeer, peerDir, runPeer, writePeerData } from './lib/torch-peer.mjs';
import { WEIGHT_NAMES, initialWeights, mergeLstm } from '../dist/model/merge-lstm.js';
import { mulberry32 as seededRandom } from '../dist/util/random.js';
import { planEpoch } from '../dist/train/batches.js';
import { loadTrainingData } from '../dist/train/data.js';
import { MemoryFeatureStore } from '../dist/train/feature-store.js';
import { openCachedFeatures } from '../dist/train/features.js';
import { startTrainingEngine } from '../dist/train/step.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const batchSize = Number(flag('batch', 128)); // capgen train's default
const seed = 1;

/**
 * Flickr8k-like synthetic data: caption lengths ~ N(11.8, 3.8) in [3, 34], Zipf-ish word ids; `images`
 * training images with 5 captions each, then devCaptions / 5 dev images.
 */
function synthetic(captions, devCaptions, vocab, featureSize, images) {
  const rand = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const devImages = Math.ceil(devCaptions / 5);
  const features = new Float32Array((images + devImages) * featureSize);
  for (let i = 0; i < features.length; i++) features[i] = Math.max(0, normal()); // post-ReLU-like
  const make = (count, firstImage, imageCount) =>
    Array.from({ length: count }, (_, c) => {
      const n = Math.min(34, Math.max(3, Math.round(11.8 + 3.8 * normal())));
      const ids = new Int32Array(n);
      for (let t = 0; t < n; t++) ids[t] = 4 + Math.floor((vocab - 4) * rand() ** 3);
      return { imageRow: firstImage + (c % imageCount), ids };
    });
  return {
    features: MemoryFeatureStore.fromMatrix(features, featureSize),
    matrix: features,
    featureSize,
    train: make(captions, 0, images),
    dev: make(devCaptions, images, devImages),
    vocabSize: vocab,
  };
}

const defaultRun = ['/work/runs/p8k-mobilenet', '/tmp/p8k-mobilenet'].find((d) => existsSync(path.join(d, 'prepare.json')));
const runDir = argv.includes('--synthetic') ? undefined : flag('run', defaultRun);
// capgen train's default: one gradient replica per core, each on one WASM thread.
const replicaCount = Number(flag('replicas', os.availableParallelism()));
// capgen train's default engine: ONNX Runtime on WASM/cpu hosts (src/train/step.ts).
const engineChoice = flag('engine', 'auto');
const info = await initBackend(flag('backend', 'wasm'), replicaCount === 1 ? {} : { threads: 1 });
let data;
if (runDir) {
  const d = await loadTrainingData(runDir, openCachedFeatures, { layout: 'pooled', store: 'memory' });
  // The PyTorch peer reads one [images, D] float32 matrix.
  const matrix = new Float32Array(d.features.rowCount * d.featureSize);
  for (let r = 0; r < d.features.rowCount; r++) d.features.copyRow(r, matrix, r * d.featureSize);
  data = { features: d.features, matrix, featureSize: d.featureSize, train: d.train, dev: d.dev, vocabSize: d.vocab.tokens.length };
  console.log(
    `data: ${runDir}: ${d.train.length} training captions, ${d.images.length} images, vocabulary ${data.vocabSize}, ${d.featureSize}-d features`,
  );
} else {
  // Flickr8k's sizes: 30000 training captions, 5000 dev captions, 2535 words at min-count 5, MobileNet 1024-d
  data = synthetic(
    Number(flag('captions', 30000)),
    Number(flag('dev-captions', 5000)),
    Number(flag('vocab', 2535)),
    Number(flag('features', 1024)),
    6000,
  );
  console.log(
    `data: synthetic, ${data.train.length} captions (6000 images x 5), ${data.dev.length} dev captions, vocabulary ${data.vocabSize}, ${data.featureSize}-d features`,
  );
}
const meanWords = data.train.reduce((a, e) => a + e.ids.length, 0) / data.train.length;
const sizes = { vocabSize: data.vocabSize, embeddingSize: 256, hiddenSize: 256, featureSize: data.featureSize, dropout: 0.5 };
const replicas = await startTrainingEngine({
  choice: engineChoice,
  backend: info,
  spec: mergeLstm,
  sizes,
  initialWeights: initialWeights(sizes, seed),
  adam: { learningRate: 1e-3, clipNorm: 5 }, // capgen train's defaults
  data,
  batchSize,
  labelSmoothing: 0,
  replicas: replicaCount,
});
console.log(
  `${describeBackend(info)}; ${replicas.description}; batch ${batchSize}, mean caption ${meanWords.toFixed(1)} words; load average ${loadAverage()}`,
);
const plan = planEpoch(data.train, { batchSize, seed, epoch: 0, shuffle: true });
const steps = Math.min(plan.length, Number(flag('steps', plan.length)));
const validate = data.dev.length > 0 && !argv.includes('--no-validate');
// --no-capgen: the peer alone (its whole epoch takes minutes; capgen's is measured elsewhere)
const capgenEpoch = argv.includes('--no-capgen') ? undefined : await measureCapgen();
await replicas.close();

/** capgen's epoch: the first `steps` steps extrapolated, then validation. Returns seconds. */
async function measureCapgen() {
  let peakRss = process.memoryUsage().rss;
  let firstLoss;
  let lastLoss;
  let captionsDone = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let index = 0; index < steps; index++) {
    const r = await replicas.step(plan[index], index);
    if (index === 0 || index === steps - 1 || index % 50 === 0) {
      lastLoss = r.loss;
      firstLoss ??= lastLoss;
    }
    captionsDone += plan[index].length;
    if (index % 20 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `capgen: CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s over all threads = ${((cpu.user + cpu.system) / 1e3 / captionsDone).toFixed(2)} CPU-ms per caption`,
  );
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const epochSeconds = (seconds * data.train.length) / captionsDone;
  console.log(
    `capgen: ${steps}/${plan.length} steps in ${seconds.toFixed(1)} s, ${(captionsDone / seconds).toFixed(0)} captions/s, loss ${firstLoss.toFixed(3)} -> ${lastLoss.toFixed(3)}`,
  );
  console.log(
    `capgen: training epoch ${epochSeconds.toFixed(1)} s${steps < plan.length ? ' (extrapolated)' : ''}, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (all threads), tensors alive ${tf.memory().numTensors}`,
  );
  let validationSeconds = 0;
  if (validate) {
    // What `capgen train` does after each epoch (src/train/loop.ts validate): batch 256, length order, no dropout.
    const v0 = performance.now();
    const devPlan = planEpoch(data.dev, { batchSize: 256, seed: 0, epoch: 0, shuffle: false });
    const v = await replicas.evaluate(data.dev, devPlan);
    validationSeconds = (performance.now() - v0) / 1000;
    console.log(
      `capgen: validation of ${data.dev.length} dev captions in ${validationSeconds.toFixed(1)} s, loss ${(v.lossSum / v.tokens).toFixed(3)}, accuracy ${(v.correct / v.tokens).toFixed(3)}`,
    );
  }
  const capgenEpoch = epochSeconds + validationSeconds;
  console.log(
    `capgen: epoch time ${capgenEpoch.toFixed(1)} s (${epochSeconds.toFixed(1)} s training${steps < plan.length ? ' extrapolated' : ''} + ${validationSeconds.toFixed(1)} s validation); load average ${loadAverage()}`,
  );
  return capgenEpoch;
}

if (!argv.includes('--no-torch')) {
  // The peer trains on exactly capgen's data (features, captions, vocabulary), in its best configuration.
  const peer = ensureTorchPeer();
  if (peer.available) {
    // The same batches in the same order (capgen's plan), so that only the dropout draws differ.
    const dir = writePeerData(peerDir('train'), {
      features: data.matrix,
      featureShape: [data.featureSize],
      vocabSize: data.vocabSize,
      train: data.train,
      dev: validate ? data.dev : [],
      extra: { plan },
    });
    // capgen's own initial weights (Keras initialisers, same seed): both sides start from the same point.
    const init = initialWeights(sizes, seed);
    writeFileSync(
      path.join(dir, 'init.bin'),
      Buffer.concat(WEIGHT_NAMES.map((n) => Buffer.from(init[n].buffer, init[n].byteOffset, init[n].byteLength))),
    );
    const args = [
      '--data',
      dir,
      '--init-weights',
      path.join(dir, 'init.bin'),
      '--batch',
      String(batchSize),
      '--threads',
      flag('torch-threads', '1,2'),
      ...(steps < plan.length ? ['--steps', String(steps)] : []),
      ...(validate ? [] : ['--no-validate']),
    ];
    const r = await runPeer(path.join(here, 'train_torch.py'), args);
    rmSync(dir, { recursive: true, force: true });
    if (r) {
      console.log(describePeer(r));
      if (capgenEpoch !== undefined)
        console.log(
          `ratio: capgen epoch / torch epoch = ${(capgenEpoch / r.seconds).toFixed(2)} (capgen ${capgenEpoch.toFixed(1)} s, torch ${r.seconds.toFixed(1)} s, each with validation${steps < plan.length ? `, training extrapolated from ${steps} steps` : ''})${peer.best && r.peer.best ? '' : ' -- the peer was NOT in its best configuration: ' + (peer.why || r.peer.blas)}`,
        );
    }
  }
}

function loadAverage() {
  return os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join('/');
}
