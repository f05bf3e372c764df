// Where a training step's time goes: one decoder's ONNX training graph (forward + backward, the graph
// `capgen train --engine onnx` runs) at one batch shape, timed by ONNX Runtime's profiler, per op type
// and, for the matrix products, per shape. Random weights and inputs (the time does not depend on them).
// Usage: npm run build && node bench/profile-step.mjs [--decoder transformer] [--steps 16] [--batch 128]
//   [--threads 1] [--layers N --ffn-size N --width N ...: the decoder's sizes, as train's flags]
import { readFileSync, rmSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { DECODERS } from '../dist/model/registry.js';
import { buildStepGraph } from '../dist/engine/onnx/trainer.js';
import { encodeOnnxModel } from '../dist/engine/onnx/proto.js';

const args = {};
for (let i = 2; i < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase())] = process.argv[i + 1];
const name = args.decoder ?? 'transformer';
const T = Number(args.steps ?? 16);
const B = Number(args.batch ?? 128);
const spec = DECODERS[name];
if (!spec) throw new Error(`--decoder: one of ${Object.keys(DECODERS).join(', ')}`);
const options = {};
for (const k of ['layers', 'heads', 'width', 'ffnSize', 'hiddenSize', 'embeddingSize', 'attentionSize', 'projectionSize'])
  if (args[k] !== undefined) options[k] = Number(args[k]);
// Flickr8k with MobileNet 1.0: vocabulary 2535, 7x7x1024 regions (1024-d pooled for merge).
const featureShape = name === 'merge' ? [1024] : [7, 7, 1024];
const sizes = spec.sizesFor({ vocabSize: 2535, featureShape, dropout: 0.1, maxLength: 40 }, options);
const bytes = encodeOnnxModel(buildStepGraph(spec, sizes, { batchSize: B, timeSteps: T, training: true, labelSmoothing: 0 }));
const dir = mkdtempSync(path.join(os.tmpdir(), 'capgen-profile-'));
const session = await ort.InferenceSession.create(bytes, {
  intraOpNumThreads: Number(args.threads ?? 1),
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
  enableProfiling: true,
  profileFilePrefix: path.join(dir, 'profile'),
});
const weights = spec.initialWeights(sizes, 1);
const feeds = {};
for (const [n, shape] of spec.weightShapes(sizes)) feeds[`w:${n}`] = new ort.Tensor('float32', weights[n], shape);
const fsz = spec.featureShape(sizes);
feeds.features = new ort.Tensor(
  'float32',
  Float32Array.from({ length: B * fsz.reduce((a, b) => a * b) }, (_, i) => Math.abs(Math.sin(i))),
  [B, ...fsz],
);
feeds.inputs = new ort.Tensor(
  'int32',
  Int32Array.from({ length: T * B }, (_, i) => 4 + (i % 2000)),
  [T * B],
);
const N = T * B; // every position scored: the longest captions of the batch's bucket
feeds.rows = new ort.Tensor(
  'int32',
  Int32Array.from({ length: N }, (_, i) => i),
  [N],
);
feeds.rowCaption = new ort.Tensor(
  'int32',
  Int32Array.from({ length: N }, (_, i) => i % B),
  [N],
);
feeds.targets = new ort.Tensor(
  'int32',
  Int32Array.from({ length: N }, (_, i) => 4 + ((i * 7) % 2000)),
  [N],
);
for (const site of spec.dropoutSites(sizes)) {
  const rows = site.per === 'caption' ? B : T * B;
  feeds[`mask:${site.name}`] = new ort.Tensor('float32', new Float32Array(rows * site.width).fill(1), [rows, site.width]);
}
const inputs = new Set(session.inputNames);
for (const k of Object.keys(feeds)) if (!inputs.has(k)) delete feeds[k];
const WARM = 2;
const RUNS = 4;
for (let i = 0; i < WARM; i++) await session.run(feeds);
const t0 = performance.now();
for (let i = 0; i < RUNS; i++) await session.run(feeds);
const perRun = (performance.now() - t0) / RUNS;
session.endProfiling();
const file = readdirSync(dir).map((f) => path.join(dir, f))[0];
const events = JSON.parse(readFileSync(file, 'utf8')).filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
rmSync(dir, { recursive: true, force: true });
// The profile holds the warm-up runs too: report shares, and the timed runs' wall time.
const byOp = new Map();
const byShape = new Map();
let total = 0;
for (const e of events) {
  byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + e.dur);
  total += e.dur;
  if (/Gemm|MatMul/.test(e.args.op_name)) {
    const key = `${e.args.op_name} ${e.args.input_type_shape.map((x) => `[${Object.values(x)[0].join(', ')}]`).join(' x ')}`;
    byShape.set(key, (byShape.get(key) ?? 0) + e.dur);
  }
}
const opts = Object.entries(options)
  .map(([k, v]) => `${k} ${v}`)
  .join(', ');
console.log(
  `${name}${opts ? ` (${opts})` : ''}: training graph ${B} captions x ${T} steps, ${args.threads ?? 1} thread(s): ${perRun.toFixed(0)} ms per run`,
);
console.log('share of kernel time by op:');
for (const [op, d] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 10))
  console.log(`  ${op.padEnd(16)} ${((100 * d) / total).toFixed(1).padStart(5)}%`);
console.log('matrix products by shape (summed over layers and time steps):');
for (const [k, d] of [...byShape].sort((a, b) => b[1] - a[1]).slice(0, 12))
  console.log(`  ${((100 * d) / total).toFixed(1).padStart(5)}%  ${k}`);
