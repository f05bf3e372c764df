// Benchmark: `capgen prepare` of Flickr8k as one process vs the same prepare as an N-shard Slurm job
// array (examples/slurm/prepare.sbatch) plus its merge (examples/slurm/merge.sbatch), on a one-node
// cluster started for the purpose (bench/lib/slurm-cluster.mjs). Every capgen process runs under
// /usr/bin/time -v (peak RSS, elapsed); the array's wall time is from submission to the end of its
// last task. From the measured images/s it projects COCO and CC3M feature extraction on K machines.
// Both caches are compared byte for byte at the end.
// Usage (root, Slurm installed): node bench/prepare-shards.mjs [--images N] [--shards 2]
//   [--data ../shared/data/flickr8k] [--encoder ../shared/models/mobilenet_v1_1.0_224_features/model.json]
//   [--preprocess tf] [--keep]
// --images N takes the first N images of the token file (a small dataset folder linking to the images).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { slurmUnavailable, startSlurmCluster } from './lib/slurm-cluster.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const shared = path.resolve(repo, '..', 'shared');
const BIN = path.join(repo, 'bin', 'capgen.js');
const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const shards = Number(arg('shards', '2')); // the issue's comparison: a 2-shard array on a 2-core machine
const images = arg('images') === undefined ? undefined : Number(arg('images'));
const dataDir = path.resolve(arg('data', path.join(shared, 'data', 'flickr8k')));
const encoder = arg('encoder', path.join(shared, 'models', 'mobilenet_v1_1.0_224_features', 'model.json'));
const preprocess = arg('preprocess', 'tf');
const keep = argv.includes('--keep');

const unavailable = slurmUnavailable();
if (unavailable || !existsSync(dataDir) || (!['seeded-cnn'].includes(encoder) && !existsSync(encoder))) {
  console.log(`skipped: ${unavailable ?? `${existsSync(dataDir) ? encoder : dataDir} is absent`}`);
  process.exit(0);
}
if (!existsSync(path.join(repo, 'dist', 'cli', 'main.js'))) {
  console.log('skipped: build first (npm run build)');
  process.exit(0);
}

const root = mkdtempSync(path.join(os.tmpdir(), 'capgen-bench-shards-'));
chmodSync(root, 0o755); // the cluster's folder is inside: munged (its own user) must reach it

/** The dataset, or a Flickr8k-format folder with the captions of its first `count` images (images linked, not copied). */
function datasetOf(count) {
  if (count === undefined) return dataDir;
  const tokenFile = path.join(dataDir, 'Flickr8k.token.txt');
  const lines = readFileSync(tokenFile, 'utf8').split('\n').filter(Boolean);
  const chosen = new Set();
  const kept = lines.filter((l) => {
    const image = l.split('#')[0];
    if (chosen.size < count) chosen.add(image);
    return chosen.has(image);
  });
  const dir = path.join(root, 'data');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'Flickr8k.token.txt'), `${kept.join('\n')}\n`);
  const imagesDir = ['Images', 'Flicker8k_Dataset'].map((d) => path.join(dataDir, d)).find((d) => existsSync(d));
  symlinkSync(imagesDir, path.join(dir, 'Images'));
  return dir;
}

/** Peak RSS (MB) and elapsed seconds from /usr/bin/time -v's report in `text`. */
function timeReport(text) {
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(text);
  return {
    peakRssMb: rss ? Number(rss[1]) / 1024 : NaN,
    elapsedS: wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : NaN,
  };
}

const features = (out) => path.join(out, 'features', readdirSync(path.join(out, 'features')).filter((n) => !n.startsWith('.'))[0]);
const load = () => os.loadavg()[0].toFixed(1);

const data = datasetOf(images);
const flags = ['--encoder', encoder, ...(encoder === 'seeded-cnn' ? [] : ['--preprocess', preprocess])];
const env = { ...process.env, CAPGEN_BACKEND: process.env.CAPGEN_BACKEND ?? 'wasm' };
let cluster;
try {
  console.log(
    `prepare of ${data}${images ? ` (first ${images} images)` : ''}: one process vs a ${shards}-shard Slurm array; load average ${load()}`,
  );

  // One process.
  const one = path.join(root, 'one');
  const single = spawnSync('/usr/bin/time', ['-v', process.execPath, BIN, 'prepare', '--data', data, '--out', one, ...flags], {
    env,
    encoding: 'utf8',
  });
  if (single.status !== 0) throw new Error(`one-process prepare failed:\n${single.stderr}`);
  const oneTime = timeReport(single.stderr);
  const computed = Number(/\((\d+) computed, \d+ reused\)/.exec(single.stderr)?.[1]);
  console.log(
    `one process: ${computed} images in ${oneTime.elapsedS.toFixed(1)} s = ${(computed / oneTime.elapsedS).toFixed(1)} images/s; peak RSS ${oneTime.peakRssMb.toFixed(0)} MB; load ${load()}`,
  );

  // The Slurm array, then the merge.
  const clusterDir = path.join(root, 'cluster');
  mkdirSync(clusterDir);
  cluster = await startSlurmCluster(clusterDir);
  const run = path.join(root, 'sharded');
  const jobEnv = { ...env, ...cluster.env, CAPGEN: `/usr/bin/time -v ${process.execPath} ${BIN}` };
  const sbatch = (args) =>
    execFileSync('sbatch', ['--parsable', '--wait', `--chdir=${root}`, ...args], { env: jobEnv, encoding: 'utf8' }).trim();
  const arrayStart = performance.now();
  const job = sbatch([
    `--array=0-${shards - 1}`,
    `--cpus-per-task=${Math.max(1, Math.floor(os.availableParallelism() / shards))}`,
    `--output=${path.join(root, 'shard-%A_%a.out')}`,
    path.join(repo, 'examples', 'slurm', 'prepare.sbatch'),
    data,
    run,
    ...flags,
  ]);
  const arrayS = (performance.now() - arrayStart) / 1000;
  const tasks = Array.from({ length: shards }, (_, i) => {
    const log = readFileSync(path.join(root, `shard-${job}_${i}.out`), 'utf8');
    return { ...timeReport(log), computed: Number(/\((\d+) computed, /.exec(log)?.[1]) };
  });
  for (const [i, t] of tasks.entries())
    console.log(`  shard ${i}/${shards}: ${t.computed} images in ${t.elapsedS.toFixed(1)} s; peak RSS ${t.peakRssMb.toFixed(0)} MB`);
  const mergeStart = performance.now();
  const mergeJob = sbatch([
    `--dependency=afterok:${job}`,
    `--output=${path.join(root, 'merge-%j.out')}`,
    path.join(repo, 'examples', 'slurm', 'merge.sbatch'),
    data,
    run,
    ...flags,
  ]);
  const mergeS = (performance.now() - mergeStart) / 1000;
  const mergeTime = timeReport(readFileSync(path.join(root, `merge-${mergeJob}.out`), 'utf8'));
  const total = tasks.reduce((a, t) => a + t.computed, 0);
  console.log(
    `${shards}-shard array: ${total} images in ${arrayS.toFixed(1)} s from submission (slowest task ${Math.max(...tasks.map((t) => t.elapsedS)).toFixed(1)} s) = ${(total / arrayS).toFixed(1)} images/s; ` +
      `merge ${mergeTime.elapsedS.toFixed(1)} s (${mergeS.toFixed(1)} s with scheduling), peak RSS ${mergeTime.peakRssMb.toFixed(0)} MB; load ${load()}`,
  );
  const same = ['vectors.bin', 'index.jsonl'].every((f) =>
    readFileSync(path.join(features(one), f)).equals(readFileSync(path.join(features(run), f))),
  );
  console.log(`caches byte-identical: ${same ? 'yes' : 'NO'}`);

  // Projection: the per-machine rate measured here, times K machines (the merge copies rows: ignored).
  const perMachine = computed / oneTime.elapsedS;
  for (const [name, count] of [
    ['COCO (123,287 images)', 123_287],
    ['CC3M (3,318,333 images)', 3_318_333],
  ]) {
    const row = [1, 4, 16, 64].map((k) => `K=${k}: ${formatHours(count / (perMachine * k))}`).join(', ');
    console.log(`projected ${name} at ${perMachine.toFixed(1)} images/s per machine: ${row}`);
  }
  if (!same) process.exitCode = 1;
} finally {
  await cluster?.stop();
  if (keep) console.log(`kept ${root}`);
  else rmSync(root, { recursive: true, force: true });
}

function formatHours(seconds) {
  return seconds < 3600 ? `${(seconds / 60).toFixed(0)} min` : `${(seconds / 3600).toFixed(1)} h`;
}
