// Benchmark: image features end to end (decode + resize + forward + cache write) through
// extractFeatures, on ../shared/data/flickr8k images, per encoder and engine (tfjs / ONNX Runtime).
// Prints images/s (wall), CPU-seconds per image (all threads; robust to other processes competing
// for the cores), peak RSS of that run alone (each setting runs in its own child process) and the load average.
// Usage: node bench/features.mjs [--encoder resnet50|densenet201|vgg16|inceptionv3|mobilenet|both|keras,a,b] [--engine tfjs|onnx|both] [--images 128] [--workers 1,2] [--batch 16]
// The Keras encoders run with RANDOM weights (the real ones cannot be downloaded here): same speed, meaningless features.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, describeBackend } from '../dist/backend/index.js';
import { extractFeatures } from '../dist/features/extract.js';
import { setLogLevel } from '../dist/log.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const shared = path.resolve(here, '..', '..', 'shared');
const argv = process.argv.slice(2);
const args = Object.fromEntries(
  argv
    .join(' ')
    .split('--')
    .filter(Boolean)
    .map((s) => s.trim().split(/\s+/)),
);
const which = args.encoder ?? 'both';
const engineArg = args.engine ?? 'both';
const count = Number(args.images ?? 128); // ~1 min per setting on a quiet 2-core machine (tfjs)
const workerCounts = String(args.workers ?? '1,2')
  .split(',')
  .map(Number);
const batchSize = Number(args.batch ?? 16);

const imagesDir = path.join(shared, 'data', 'flickr8k', 'Images');
if (!existsSync(imagesDir)) {
  console.log(`skipped: ${imagesDir} is absent`);
  process.exit(0);
}
const encoders = {
  resnet50: { label: 'ResNet50 (RANDOM weights, speed only)', config: { encoder: 'resnet50', weights: 'random' } },
  densenet201: { label: 'DenseNet201 (RANDOM weights)', config: { encoder: 'densenet201', weights: 'random' } },
  vgg16: { label: 'VGG16 (RANDOM weights)', config: { encoder: 'vgg16', weights: 'random' } },
  inceptionv3: { label: 'InceptionV3 299x299 (RANDOM weights)', config: { encoder: 'inceptionv3', weights: 'random' } },
  mobilenet: {
    label: 'MobileNet v1 1.0 features -> 1024-d',
    config: { encoder: path.join(shared, 'models', 'mobilenet_v1_1.0_224_features', 'model.json'), preprocess: 'tf' },
  },
};

const childAt = argv.indexOf('--child');
if (childAt >= 0) {
  // One setting, in this process alone: prints one JSON line.
  const [key, engine, workers] = argv.slice(childAt + 1, childAt + 4);
  const images = readdirSync(imagesDir)
    .sort()
    .slice(0, count)
    .map((name) => ({ name, path: path.join(imagesDir, name) }));
  setLogLevel({ quiet: true });
  const info = await initBackend('wasm');
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'capgen-bench-features-'));
  const config = {
    seed: 1,
    pooling: 'avg',
    resize: 'squash',
    batchSize,
    dtype: 'float32',
    workers: Number(workers),
    engine,
    ...encoders[key].config,
  };
  const load0 = os.loadavg()[0];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await extractFeatures({ runDir, images, config, backend: info });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  rmSync(runDir, { recursive: true, force: true });
  console.log(
    JSON.stringify({
      backend: describeBackend(info),
      computed: r.computed,
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      load0,
      load1: os.loadavg()[0],
    }),
  );
  process.exit(0);
}

// 'both' keeps its old meaning; 'keras' is the four Keras Applications encoders; or a comma list.
const selected =
  which === 'both' ? ['mobilenet', 'resnet50'] : which === 'keras' ? ['resnet50', 'densenet201', 'vgg16', 'inceptionv3'] : which.split(',');
const unknown = selected.filter((k) => !encoders[k]);
if (unknown.length) throw new Error(`unknown --encoder ${unknown.join(', ')}: choose ${Object.keys(encoders).join(', ')}, both or keras`);
const engines = engineArg === 'both' ? ['tfjs', 'onnx'] : [engineArg];
console.log(`${os.cpus().length} cores; first ${count} images of ${imagesDir}; batch ${batchSize}; tfjs engine on the WASM backend`);
for (const key of selected) {
  for (const engine of engines) {
    // ONNX Runtime uses every core in one session: a worker pool is a tfjs-only option.
    for (const workers of engine === 'onnx' ? [1] : workerCounts) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), ...argv, '--child', key, engine, String(workers)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const r = JSON.parse(out.trim().split('\n').pop());
      console.log(
        `${encoders[key].label.padEnd(38)} ${engine.padEnd(4)} workers ${workers}: ${r.computed} images in ${r.seconds.toFixed(1)} s = ${(r.computed / r.seconds).toFixed(2)} images/s; ` +
          `${(r.cpuSeconds / r.computed).toFixed(3)} CPU-s/image (all threads, start-up included); peak RSS ${r.maxRssMb.toFixed(0)} MB; load average ${r.load0.toFixed(1)} -> ${r.load1.toFixed(1)}`,
      );
    }
  }
}
