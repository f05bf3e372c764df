// Benchmark: greedy and beam-3 captions for 1000 images with a random-weight MergeLstm of
// Flickr8k size (vocabulary ~8000 at min-count 1, hidden 256, 2048-d features), on WASM.
// Targets (issue 5): greedy <= 20 s, beam 3 <= 60 s. Usage: node bench/decode.mjs [--images 1000] [--vocab 8000]
// Random weights never pick the end token, so every caption runs to the 34-word limit: the worst case
// (a trained model stops after ~10-12 words, and ended captions leave the batch).
// Last numbers: bench/README.md (decode).
import * as tf from '@tensorflow/tfjs';
import { initBackend, describeBackend } from '../dist/backend/index.js';
import { decodeFeatures } from '../dist/decode/index.js';
import { initialWeights, MergeLstm } from '../dist/model/merge-lstm.js';
import { mulberry32 } from '../dist/util/random.js';

const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((s) => s.trim().split(/\s+/)));
const images = Number(args.images ?? 1000);
const vocabSize = Number(args.vocab ?? 8000); // Flickr8k has ~8400 words at min-count 1, ~3000 at min-count 5
const maxLength = Number(args['max-length'] ?? 34); // the longest cleaned Flickr8k caption
const batchSize = args.batch ? Number(args.batch) : undefined;
const backend = args.backend ?? 'wasm';

const info = await initBackend(backend);
console.log(describeBackend(info));
const sizes = { vocabSize, embeddingSize: 256, hiddenSize: 256, featureSize: 2048, dropout: 0 };
const model = new MergeLstm(sizes, initialWeights(sizes, 1));
const rand = mulberry32(2);
// ResNet50 pooled features are non-negative (post-ReLU averages), mostly below ~2
const features = Array.from({ length: images }, () => Float32Array.from({ length: sizes.featureSize }, () => rand() * rand() * 2));
console.log(`${images} images, vocabulary ${vocabSize}, hidden ${sizes.hiddenSize}, features ${sizes.featureSize}, max ${maxLength} words`);

const targets = { 1: 20, 3: 60 };
const tensorsBefore = tf.memory().numTensors;
let failed = false;
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
  console.log(`${beamSize === 1 ? 'greedy ' : `beam ${beamSize} `} ${seconds.toFixed(1).padStart(6)} s wall, ${cpuSeconds.toFixed(1).padStart(6)} s CPU  (${((seconds / images) * 1000).toFixed(1)} ms/image, mean ${meanWords.toFixed(1)} words; target <= ${targets[beamSize]} s: ${ok ? 'ok' : 'MISSED'})`);
}
console.log(`tensors left behind by decoding: ${tf.memory().numTensors - tensorsBefore}`);
model.dispose();
process.exitCode = failed ? 1 : 0;
