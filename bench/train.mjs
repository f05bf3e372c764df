// Benchmark: one training epoch of capgen's merge-LSTM decoder at Flickr8k size (the same batches,
// model and Adam update as `capgen train`), its peak RSS, and the same in PyTorch (bench/train_torch.py)
// as a ratio. Uses a prepared run when given (--run DIR), else synthetic features and captions.
// Usage: node bench/train.mjs [--run /tmp/p8k-mobilenet] [--captions 30000] [--vocab 3000] [--steps N] [--batch 128]
//        [--replicas N] [--no-torch] [--torch-threads N] [--validate]
// Numbers and how to read them: bench/README.md (train).
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../dist/backend/index.js';
import { MergeLstm, initialWeights } from '../dist/model/merge-lstm.js';
import { mulberry32 } from '../dist/util/random.js';
import { Adam } from '../dist/train/adam.js';
import { planEpoch } from '../dist/train/batches.js';
import { loadTrainingData } from '../dist/train/data.js';
import { openCachedFeatures } from '../dist/train/features.js';
import { startReplicas } from '../dist/train/replicas.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const batchSize = Number(flag('batch', 128)); // capgen train's default
const seed = 1;

/** Flickr8k-like synthetic data: caption lengths ~ N(11.8, 3.8) in [3, 34], Zipf-ish word ids. */
function synthetic(captions, vocab, featureSize, images) {
  const rand = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const features = new Float32Array(images * featureSize);
  for (let i = 0; i < features.length; i++) features[i] = Math.max(0, normal()); // post-ReLU-like
  const train = [];
  for (let c = 0; c < captions; c++) {
    const n = Math.min(34, Math.max(3, Math.round(11.8 + 3.8 * normal())));
    const ids = new Int32Array(n);
    for (let t = 0; t < n; t++) ids[t] = 4 + Math.floor((vocab - 4) * rand() ** 3);
    train.push({ imageRow: c % images, ids });
  }
  return { features, featureSize, train, dev: [], vocabSize: vocab };
}

const runDir = flag('run', existsSync('/tmp/p8k-mobilenet/prepare.json') ? '/tmp/p8k-mobilenet' : undefined);
// capgen train's default: one gradient replica per core, each on one WASM thread.
const replicaCount = Number(flag('replicas', os.availableParallelism()));
const info = await initBackend(flag('backend', 'wasm'), replicaCount === 1 ? {} : { threads: 1 });
let data;
if (runDir) {
  const d = await loadTrainingData(runDir, openCachedFeatures);
  data = { features: d.features, featureSize: d.featureSize, train: d.train, dev: d.dev, vocabSize: d.vocab.tokens.length };
  console.log(`data: ${runDir}: ${d.train.length} training captions, ${d.images.length} images, vocabulary ${data.vocabSize}, ${d.featureSize}-d features`);
} else {
  data = synthetic(Number(flag('captions', 30000)), Number(flag('vocab', 3000)), Number(flag('features', 1024)), 6000);
  console.log(`data: synthetic, ${data.train.length} captions (6000 images x 5), vocabulary ${data.vocabSize}, ${data.featureSize}-d features`);
}
const meanWords = data.train.reduce((a, e) => a + e.ids.length, 0) / data.train.length;
console.log(`${describeBackend(info)}, ${replicaCount} gradient replica(s); batch ${batchSize}, mean caption ${meanWords.toFixed(1)} words`);

const sizes = { vocabSize: data.vocabSize, embeddingSize: 256, hiddenSize: 256, featureSize: data.featureSize, dropout: 0.5 };
const model = new MergeLstm(sizes, initialWeights(sizes, seed));
const optimizer = new Adam(model.variables, { learningRate: 1e-3, clipNorm: 5 });
const replicas = await startReplicas({ count: replicaCount, backend: info.name, model, optimizer, data });
const plan = planEpoch(data.train, { batchSize, seed, epoch: 0, shuffle: true });
const steps = Math.min(plan.length, Number(flag('steps', plan.length)));
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
console.log(`capgen: CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s over all threads = ${((cpu.user + cpu.system) / 1e3 / captionsDone).toFixed(2)} CPU-ms per caption`);
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const epochSeconds = (seconds * data.train.length) / captionsDone;
console.log(`capgen: ${steps}/${plan.length} steps in ${seconds.toFixed(1)} s, ${(captionsDone / seconds).toFixed(0)} captions/s, loss ${firstLoss.toFixed(3)} -> ${lastLoss.toFixed(3)}`);
console.log(`capgen: epoch time ${epochSeconds.toFixed(1)} s${steps < plan.length ? ' (extrapolated)' : ''}, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (all threads), tensors alive ${tf.memory().numTensors}`);
if (data.dev.length && argv.includes('--validate')) {
  const v0 = performance.now();
  const devPlan = planEpoch(data.dev, { batchSize: 256, seed: 0, epoch: 0, shuffle: false });
  const v = await replicas.evaluate(data.dev, devPlan);
  console.log(`capgen: validation of ${data.dev.length} dev captions in ${((performance.now() - v0) / 1000).toFixed(1)} s, loss ${(v.lossSum / v.tokens).toFixed(3)}`);
}
await replicas.close();
model.dispose();
optimizer.dispose();

if (!argv.includes('--no-torch')) {
  const python = '/usr/bin/python3';
  const check = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
  if (check.status !== 0) {
    console.log('torch: python3-torch is missing; installing it with apt (needs root and the network)');
    spawnSync('apt-get', ['install', '-y', 'python3-torch'], { stdio: 'inherit' });
  }
  const args = [path.join(here, 'train_torch.py'), '--captions', String(data.train.length), '--vocab', String(data.vocabSize), '--features', String(data.featureSize), '--batch', String(batchSize), '--steps', String(steps), ...(flag('torch-threads') ? ['--threads', flag('torch-threads')] : [])];
  const r = spawnSync(python, args, { encoding: 'utf8' });
  process.stdout.write(r.stdout);
  if (r.status !== 0) console.log(`torch: failed: ${r.stderr.split('\n').slice(-3).join(' ')}`);
  const m = /torch: epoch time ([\d.]+) s/.exec(r.stdout);
  if (m) console.log(`ratio: capgen epoch / torch epoch = ${(epochSeconds / Number(m[1])).toFixed(2)}`);
}
