// Benchmark: `capgen train --feature-store disk` against `memory` on one run folder: each store trains
// the same decoder for the same steps (same seed, same batches: the same weights) in its own process
// under /usr/bin/time -v, and the script prints its steps/s (from train's own `--max-steps` line: the
// steps alone, without loading), wall time (loading included) and peak RSS.
// Without --run it generates a small spatial run (bench/lib/synthetic-run.mjs) in a temp folder, so
// `npm run bench` stays short; the COCO-scale numbers come from a generated full-size run (README).
// Usage: node bench/feature-store.mjs [--run DIR] [--stores disk,memory] [--steps 20] [--decoder attention]
//        [--images 400] [--no-warm] [-- extra train flags]
// Numbers and how to read them: bench/README.md (feature-store).
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticRun } from './lib/synthetic-run.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, '..', 'bin', 'capgen.js');
const dashes = process.argv.indexOf('--');
const argv = process.argv.slice(2, dashes < 0 ? undefined : dashes);
const extra = dashes < 0 ? [] : process.argv.slice(dashes + 1);
const flag = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const stores = flag('stores', 'disk,memory').split(',');
const steps = Number(flag('steps', 20));
const decoder = flag('decoder', 'attention');
const loadAverage = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join('/');

let runDir = flag('run');
let generated;
if (!runDir) {
  generated = mkdtempSync(path.join(os.tmpdir(), 'capgen-bench-store-'));
  runDir = path.join(generated, 'run');
  const images = Number(flag('images', 400));
  const r = await writeSyntheticRun({ out: runDir, images });
  console.log(`generated ${runDir}: ${images} images, 7x7x1024 float16 (${(r.vectorBytes / 2 ** 20).toFixed(0)} MiB)`);
}

try {
  const prepare = JSON.parse(readFileSync(path.join(runDir, 'prepare.json'), 'utf8'));
  const vectors = path.join(path.resolve(runDir, prepare.features.dir), 'vectors.bin');
  const vectorBytes = statSync(vectors).size;
  console.log(
    `run ${runDir}: features ${prepare.features.encoder.featureShape.join('x')} ${prepare.features.dtype}, vectors.bin ${(vectorBytes / 2 ** 30).toFixed(2)} GiB; ` +
      `machine memory ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB (free ${(os.freemem() / 2 ** 30).toFixed(1)}), ${os.availableParallelism()} cores`,
  );
  if (!argv.includes('--no-warm')) {
    // A warm page cache, as the disk store is meant to run on (when the file fits in the machine's memory).
    const t0 = performance.now();
    await new Promise((resolve, reject) =>
      createReadStream(vectors, { highWaterMark: 8 << 20 })
        .on('data', () => {})
        .on('end', resolve)
        .on('error', reject),
    );
    console.log(`read vectors.bin once to warm the page cache: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  for (const store of stores) {
    const args = [
      bin,
      'train',
      '--run',
      runDir,
      '--decoder',
      decoder,
      '--feature-store',
      store,
      '--max-steps',
      String(steps),
      '--overwrite',
      ...extra,
    ];
    const before = loadAverage();
    const hasTime = existsSync('/usr/bin/time');
    const r = hasTime
      ? spawnSync('/usr/bin/time', ['-v', process.execPath, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 })
      : spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
    const err = r.stderr ?? '';
    const rate = /(\d+) steps in ([\d.]+) s = ([\d.]+) steps\/s/.exec(err);
    const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(err);
    const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(err);
    const chose = /feature store (\w+) \(([^)]*)\)/.exec(err);
    if (r.status !== 0 || !rate) {
      console.log(`${store}: train failed (exit ${r.status})\n${err.split('\n').slice(-15).join('\n')}`);
      process.exitCode = 1;
      continue;
    }
    console.log(
      `${store.padEnd(6)}: ${rate[1]} steps in ${rate[2]} s = ${rate[3]} steps/s; wall ${wall?.[1] ?? '?'} (loading included); ` +
        `peak RSS ${rss ? `${(Number(rss[1]) / 2 ** 20).toFixed(2)} GiB` : '? (no /usr/bin/time)'}; store ${chose?.[1]} (${chose?.[2]}); load average ${before} -> ${loadAverage()}`,
    );
  }
} finally {
  if (generated) rmSync(generated, { recursive: true, force: true });
}
