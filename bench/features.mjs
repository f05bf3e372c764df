// Benchmark: image features end to end (decode + resize + forward + cache write) through
// extractFeatures, on ../shared/data/flickr8k images. Prints images/s (wall), CPU-seconds per image
// (all threads; robust to other processes competing for the cores), peak RSS and the load average.
// Usage: node bench/features.mjs [--encoder resnet50|mobilenet|both] [--images 128] [--workers 1,2] [--batch 16]
// ResNet50 runs with RANDOM weights (the real ones cannot be downloaded here): same speed, meaningless features.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, describeBackend } from '../dist/backend/index.js';
import { extractFeatures } from '../dist/features/extract.js';
import { setLogLevel } from '../dist/log.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const shared = path.resolve(here, '..', '..', 'shared');
const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((s) => s.trim().split(/\s+/)));
const which = args.encoder ?? 'both';
const count = Number(args.images ?? 128); // ~1 min per setting on a quiet 2-core machine
const workerCounts = String(args.workers ?? '1,2').split(',').map(Number);
const batchSize = Number(args.batch ?? 16);

const imagesDir = path.join(shared, 'data', 'flickr8k', 'Images');
if (!existsSync(imagesDir)) {
  console.log(`skipped: ${imagesDir} is absent`);
  process.exit(0);
}
const images = readdirSync(imagesDir).sort().slice(0, count).map((name) => ({ name, path: path.join(imagesDir, name) }));
setLogLevel({ quiet: true });
const info = await initBackend('wasm');
console.log(`${describeBackend(info)}; ${os.cpus().length} cores; ${images.length} images from ${imagesDir}`);

const encoders = {
  resnet50: { label: 'ResNet50 (RANDOM weights, speed only)', config: { encoder: 'resnet50', weights: 'random' } },
  mobilenet: {
    label: 'MobileNet v1 1.0 features -> 1024-d',
    config: { encoder: path.join(shared, 'models', 'mobilenet_v1_1.0_224_features', 'model.json'), preprocess: 'tf' },
  },
};
const selected = which === 'both' ? ['mobilenet', 'resnet50'] : [which];
for (const key of selected) {
  for (const workers of workerCounts) {
    const runDir = mkdtempSync(path.join(os.tmpdir(), 'capgen-bench-features-'));
    const config = { seed: 1, pooling: 'avg', resize: 'squash', batchSize, dtype: 'float32', workers, ...encoders[key].config };
    const load0 = os.loadavg()[0];
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await extractFeatures({ runDir, images, config, backend: info });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuPerImage = (cpu.user + cpu.system) / 1e6 / r.computed;
    rmSync(runDir, { recursive: true, force: true });
    console.log(
      `${encoders[key].label.padEnd(40)} workers ${workers}: ${r.computed} images in ${seconds.toFixed(1)} s = ${(r.computed / seconds).toFixed(2)} images/s; ` +
        `${cpuPerImage.toFixed(3)} CPU-s/image (all threads, start-up included); ` +
        `peak RSS so far ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB; load average ${load0.toFixed(1)} -> ${os.loadavg()[0].toFixed(1)}`,
    );
  }
}
