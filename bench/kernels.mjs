// Benchmark: one training step of a small Embedding+LSTM+Dense model (tfjs-layers) on the stock
// kernels vs capgen's kernel fixes (src/backend/kernel-fixes.ts), on the WASM and cpu backends.
// Usage: node bench/kernels.mjs [--vocab 2000] [--batch 32] [--time 16]
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerKernelFixes } from '../dist/backend/kernel-fixes.js';

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .join(' ')
    .split('--')
    .filter(Boolean)
    .map((s) => s.trim().split(/\s+/)),
);
const vocab = Number(args.vocab ?? 2000); // Flickr8k at min-count 5 is ~3000 words; 2000 keeps the stock cpu run short
const batch = Number(args.batch ?? 32);
const time = Number(args.time ?? 16);
const units = 64;

function buildModel() {
  const m = tf.sequential();
  m.add(tf.layers.embedding({ inputDim: vocab, outputDim: units, inputLength: time }));
  // glorot recurrent init: the stock Orthogonal initializer alone costs minutes on cpu.
  m.add(tf.layers.lstm({ units, recurrentInitializer: 'glorotUniform' }));
  m.add(tf.layers.dense({ units: vocab, activation: 'softmax' }));
  m.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy' });
  return m;
}

async function stepMs(label, repeats = 3) {
  const model = buildModel();
  const x = tf.randomUniform([batch, time], 0, vocab).floor(); // Embedding wants float ids
  const y = tf.randomUniform([batch, 1], 0, vocab).floor();
  try {
    await model.trainOnBatch(x, y); // warm-up (kernel compilation, allocations)
    const t0 = performance.now();
    for (let i = 0; i < repeats; i++) await model.trainOnBatch(x, y);
    const ms = (performance.now() - t0) / repeats;
    console.log(`${label.padEnd(44)} ${ms.toFixed(1).padStart(9)} ms/step`);
    return ms;
  } catch (e) {
    console.log(`${label.padEnd(44)} fails: ${String(e.message).split('\n')[0]}`);
    return undefined;
  } finally {
    tf.dispose([x, y]);
    model.dispose();
  }
}

console.log(`one training step: Embedding(${vocab}, ${units}) -> LSTM(${units}) -> Dense(${vocab}), batch ${batch}, ${time} steps`);
await tf.setBackend('wasm');
await stepMs('wasm, stock kernels');
const stockMatMul = tf.getKernel('BatchMatMul', 'wasm').kernelFunc;
registerKernelFixes('wasm');
const fixedMatMul = tf.getKernel('BatchMatMul', 'wasm').kernelFunc;
tf.unregisterKernel('BatchMatMul', 'wasm');
tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: stockMatMul });
const segOnly = await stepMs('wasm, + UnsortedSegmentSum only');
tf.unregisterKernel('BatchMatMul', 'wasm');
tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: fixedMatMul });
const allFixes = await stepMs('wasm, + transposed BatchMatMul (all fixes)');
if (segOnly && allFixes) console.log(`wasm speed-up from the BatchMatMul fix: ${(segOnly / allFixes).toFixed(1)}x`);

await tf.setBackend('cpu');
const cpuStock = await stepMs('cpu, stock kernels', 1);
registerKernelFixes('cpu');
const cpuFixed = await stepMs('cpu, UnsortedSegmentSum fix', 1);
if (cpuStock && cpuFixed) console.log(`cpu speed-up from the UnsortedSegmentSum fix: ${(cpuStock / cpuFixed).toFixed(1)}x`);
if (allFixes && cpuFixed) console.log(`wasm (fixed) vs cpu (fixed): ${(cpuFixed / allFixes).toFixed(1)}x faster`);
