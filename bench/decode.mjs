// Benchmark: greedy and beam-3 captions for 1000 images with a random-weight MergeLstm of
// Flickr8k size (vocabulary ~8000 at min-count 1, hidden 256, 2048-d features), on WASM.
// Targets (issue 5): greedy <= 20 s, beam 3 <= 60 s. Usage: node bench/decode.mjs [--images 1000] [--vocab 8000]
// Random weights never pick the end token, so every caption runs to the 34-word limit: the worst case
// (a trained model stops after ~10-12 words, and ended captions leave the batch).
// Then, side by side with PyTorch (bench/decode_torch.py, on OpenBLAS): greedy captions of the 1000 dev
// images of a prepared run (--run DIR, default /work/runs/p8k-mobilenet or /tmp/p8k-mobilenet) with TRAINED
// weights, so captions stop at their end token after ~10 words as real ones do. The weights are the run's
// capgen checkpoint (--checkpoint DIR, default <run>/train/best) or, when it has none, the merge decoder
// trained by PyTorch for --peer-epochs (default 1) epochs on the run's training captions; both sides decode
// with the same weights, and the script prints how many captions agree word for word.
// More flags: --peer-batch 1000,256 (images per batch, both sides) --torch-threads 1,2 --repeats 3 (fastest of N, both sides) --no-torch --no-random
// Last numbers: bench/README.md (decode).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend, describeBackend } from '../dist/backend/index.js';
import { decodeFeatures } from '../dist/decode/index.js';
import { readCheckpoint } from '../dist/model/checkpoint.js';
import { initialWeights, mergeLstm, WEIGHT_NAMES, weightShapes } from '../dist/model/merge-lstm.js';
import { MergeLstm } from '../dist/engine/tfjs-decoder.js';
import { OnnxStepDecoder } from '../dist/engine/onnx/step-decoder.js';
import { mulberry32 as seededRandom } from '../dist/util/random.js';
import { loadTrainingData } from '../dist/train/data.js';
import { openCachedFeatures } from '../dist/train/features.js';
import { describePeer, ensureTorchPeer, peerDir, runPeer, writePeerData } from './lib/torch-peer.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .join(' ')
    .split('--')
    .filter(Boolean)
    .map((s) => s.trim().split(/\s+/))
    .map(([k, v]) => [k, v ?? true]),
);
const images = Number(args.images ?? 1000);
const vocabSize = Number(args.vocab ?? 8000); // Flickr8k has ~8400 words at min-count 1, ~3000 at min-count 5
const maxLength = Number(args['max-length'] ?? 34); // the longest cleaned Flickr8k caption
const repeats = Number(args.repeats ?? 3); // side-by-side decoding: the fastest of this many runs, both sides
const batchSize = args.batch ? Number(args.batch) : undefined;
const backend = args.backend ?? 'wasm';

const info = await initBackend(backend);
console.log(describeBackend(info));
let failed = false;
if (!args['no-random']) await randomWorstCase();
if (!args['no-torch']) await trainedSideBySide();
process.exitCode = failed ? 1 : 0;

async function randomWorstCase() {
  const sizes = { vocabSize, embeddingSize: 256, hiddenSize: 256, featureSize: 2048, dropout: 0 };
  const model = captionModel(sizes, initialWeights(sizes, 1));
  const rand = seededRandom(2);
  // ResNet50 pooled features are non-negative (post-ReLU averages), mostly below ~2
  const features = Array.from({ length: images }, () => Float32Array.from({ length: sizes.featureSize }, () => rand() * rand() * 2));
  console.log(
    `${images} images, vocabulary ${vocabSize}, hidden ${sizes.hiddenSize}, features ${sizes.featureSize}, max ${maxLength} words`,
  );

  const targets = { 1: 20, 3: 60 };
  const tensorsBefore = tf.memory().numTensors;
  for (const beamSize of [1, 3]) {
    await decodeFeatures(model, features.slice(0, 8), { maxLength: 4, beamSize, lengthPenalty: 0 }); // warm-up
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const out = await decodeFeatures(model, features, { maxLength, beamSize, lengthPenalty: 0, batchSize });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    // WASM runs on one thread: on a busy machine, CPU seconds are the fairer number
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const meanWords = out.reduce((n, d) => n + d.tokens.length, 0) / out.length;
    const ok = seconds <= targets[beamSize];
    failed ||= !ok;
    console.log(
      `${beamSize === 1 ? 'greedy ' : `beam ${beamSize} `} ${seconds.toFixed(1).padStart(6)} s wall, ${cpuSeconds.toFixed(1).padStart(6)} s CPU  (${((seconds / images) * 1000).toFixed(1)} ms/image, mean ${meanWords.toFixed(1)} words; target <= ${targets[beamSize]} s: ${ok ? 'ok' : 'MISSED'})`,
    );
  }
  console.log(`tensors left behind by decoding: ${tf.memory().numTensors - tensorsBefore}`);
  model.dispose();
}

/** Greedy decoding of the run's dev images with trained weights, capgen and PyTorch on the same weights. */
async function trainedSideBySide() {
  console.log('\n--- greedy decoding with trained weights, side by side with PyTorch ---');
  const runDir = args.run ?? ['/work/runs/p8k-mobilenet', '/tmp/p8k-mobilenet'].find((d) => existsSync(path.join(d, 'prepare.json')));
  if (!runDir) {
    console.log('skipped: no prepared run (give --run DIR: a `capgen prepare` run folder with pooled features)');
    return;
  }
  const peer = ensureTorchPeer();
  if (!peer.available) return;
  const d = await loadTrainingData(runDir, openCachedFeatures, { layout: 'pooled', store: 'memory' });
  const D = d.featureSize;
  const rows = [...new Set(d.dev.map((e) => e.imageRow))].slice(0, images);
  const features = new Float32Array(rows.length * D);
  rows.forEach((r, i) => d.features.copyRow(r, features, i * D));
  const dir = peerDir('decode');
  try {
    const checkpoint = args.checkpoint ?? [path.join(runDir, 'train', 'best')].find((c) => existsSync(path.join(c, 'checkpoint.json')));
    let sizes;
    let weightsFile;
    let maxLength;
    let source;
    if (checkpoint) {
      const { meta } = await readCheckpoint(checkpoint);
      sizes = {
        vocabSize: meta.vocabSize,
        embeddingSize: meta.embeddingSize,
        hiddenSize: meta.hiddenSize,
        featureSize: meta.featureSize,
        dropout: 0,
      };
      weightsFile = path.join(checkpoint, 'weights.bin'); // capgen's layout is what the peer reads
      maxLength = meta.maxCaptionLength;
      source = `capgen checkpoint ${checkpoint} (epoch ${meta.epoch})`;
    } else {
      const epochs = Number(args['peer-epochs'] ?? 1); // one epoch: captions already stop after ~10 words
      sizes = { vocabSize: d.vocab.tokens.length, embeddingSize: 256, hiddenSize: 256, featureSize: D, dropout: 0 };
      weightsFile = path.join(dir, 'weights.bin');
      maxLength = d.prepare.maxCaptionLength;
      console.log(
        `no capgen checkpoint in ${runDir}: PyTorch trains the merge decoder for ${epochs} epoch(s) on the run's ${d.train.length} training captions (untimed), and both sides decode with those weights`,
      );
      const matrix = new Float32Array(d.features.rowCount * D); // the peer reads one [images, D] matrix
      for (let r = 0; r < d.features.rowCount; r++) d.features.copyRow(r, matrix, r * D);
      const trainDir = writePeerData(path.join(dir, 'train'), {
        features: matrix,
        featureShape: [D],
        vocabSize: sizes.vocabSize,
        train: d.train,
      });
      const r = await runPeer(path.join(here, 'train_torch.py'), [
        '--data',
        trainDir,
        '--epochs',
        String(epochs),
        '--save-weights',
        weightsFile,
        '--threads',
        '1',
        '--no-validate',
      ]);
      if (!r) return;
      source = `merge decoder trained by PyTorch for ${epochs} epoch(s) on ${runDir}`;
    }
    const flat = new Float32Array(new Uint8Array(readFileSync(weightsFile)).buffer);
    const shapes = weightShapes(sizes);
    const weights = {};
    let offset = 0;
    for (const name of WEIGHT_NAMES) {
      const n = shapes[name].reduce((a, b) => a * b, 1);
      weights[name] = flat.subarray(offset, offset + n);
      offset += n;
    }
    if (offset !== flat.length) throw new Error(`${weightsFile}: ${flat.length} values, expected ${offset}`);
    const model = captionModel(sizes, weights);
    writePeerData(dir, { features, featureShape: [D], vocabSize: sizes.vocabSize, extra: { sizes, maxLength } });
    console.log(
      `weights: ${source}; ${rows.length} dev images, vocabulary ${sizes.vocabSize}, ${D}-d features, at most ${maxLength} words`,
    );
    const featureRows = rows.map((_, i) => features.subarray(i * D, (i + 1) * D));
    for (const batch of String(args['peer-batch'] ?? '1000,256')
      .split(',')
      .map(Number)) {
      await decodeFeatures(model, featureRows.slice(0, 8), { maxLength: 4, beamSize: 1, lengthPenalty: 0 }); // warm-up
      // The fastest of --repeats runs (default 3), on both sides: runs of ~0.5 s are noisy.
      let seconds = Infinity;
      let cpu = { user: 0, system: 0 };
      let out;
      for (let r = 0; r < repeats; r++) {
        const t0 = performance.now();
        const cpu0 = process.cpuUsage();
        out = await decodeFeatures(model, featureRows, { maxLength, beamSize: 1, lengthPenalty: 0, batchSize: batch });
        const s = (performance.now() - t0) / 1000;
        if (s < seconds) [seconds, cpu] = [s, process.cpuUsage(cpu0)];
      }
      const meanWords = out.reduce((n, c) => n + c.tokens.length, 0) / out.length;
      console.log(
        `capgen: greedy ${out.length} images in ${seconds.toFixed(2)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU (batch ${batch}), mean ${meanWords.toFixed(1)} words`,
      );
      const captionsFile = path.join(dir, `torch-captions-${batch}.json`);
      const r = await runPeer(path.join(here, 'decode_torch.py'), [
        '--data',
        dir,
        '--weights',
        weightsFile,
        '--batch',
        String(batch),
        '--threads',
        String(args['torch-threads'] ?? '1,2'),
        '--out',
        captionsFile,
        '--repeats',
        String(repeats),
      ]);
      if (!r) continue;
      const theirs = JSON.parse(readFileSync(captionsFile, 'utf8'));
      const same = out.filter((c, i) => c.tokens.length === theirs[i].length && c.tokens.every((w, j) => w === theirs[i][j])).length;
      console.log(describePeer(r));
      console.log(
        `ratio: capgen greedy / torch greedy = ${(seconds / r.seconds).toFixed(2)} (capgen ${seconds.toFixed(2)} s, torch ${r.seconds.toFixed(2)} s, batch ${batch}); ` +
          `identical captions ${same}/${out.length}${peer.best && r.peer.best ? '' : ' -- the peer was NOT in its best configuration'}`,
      );
    }
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The decoder as capgen's caption/eval/serve run it (src/model/checkpoint.ts loadCheckpoint): ONNX
 * Runtime on WASM/cpu hosts, tfjs with --engine tfjs.
 */
function captionModel(sizes, weights) {
  const engine = process.argv.includes('--engine') ? process.argv[process.argv.indexOf('--engine') + 1] : 'auto';
  const model = engine === 'tfjs' ? undefined : OnnxStepDecoder.create(mergeLstm, sizes, weights);
  console.log(`decoding engine: ${model ? 'onnx (ONNX Runtime)' : 'tfjs'}`);
  return model ?? new MergeLstm(sizes, weights);
}
