// The PyTorch peers of bench/train.mjs and bench/decode.mjs: set the peer up in its best configuration
// (Debian's python3-torch on OpenBLAS, one BLAS thread), hand it capgen's own data, run it, and parse its
// result. A peer on the reference BLAS (what apt installs with python3-torch alone) is ~15x slower than on
// OpenBLAS: a comparison against it says nothing, so this file says loudly when it cannot fix that.
// (In bench/lib/ so that bench/run.js, which runs every bench/*.mjs, does not run it as a benchmark.)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const PYTHON = '/usr/bin/python3'; // where apt's python3-torch installs; not a pyenv/venv python
const ALTERNATIVE = 'libblas.so.3-x86_64-linux-gnu';

function hasTorch() {
  return spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

/** The library the system's libblas.so.3 points to (Debian alternatives), or undefined. */
function blasAlternative() {
  const r = spawnSync('update-alternatives', ['--query', ALTERNATIVE], { encoding: 'utf8' });
  return /^Value: (.*)$/m.exec(r.stdout ?? '')?.[1];
}

function loud(lines) {
  const bar = '!'.repeat(100);
  console.log([bar, ...lines.map((l) => `!! ${l}`), bar].join('\n'));
}

/**
 * Makes sure the peer can run on OpenBLAS: installs python3-torch and libopenblas0-pthread with apt when
 * they are missing and we are root; otherwise says why the peer is not in its best configuration.
 * Returns { available, best, why }.
 */
export function ensureTorchPeer() {
  const isRoot = process.getuid?.() === 0;
  let torch = hasTorch();
  let blas = blasAlternative();
  if (!torch || !blas?.includes('openblas')) {
    const missing = [!torch && 'python3-torch', !blas?.includes('openblas') && 'libopenblas0-pthread'].filter(Boolean);
    if (isRoot) {
      console.log(`torch peer: installing ${missing.join(' and ')} with apt (the peer's best configuration on Debian)`);
      spawnSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'] });
      spawnSync('apt-get', ['install', '-y', 'python3-torch', 'libopenblas0-pthread'], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
      torch = hasTorch();
      blas = blasAlternative();
    }
  }
  if (!torch) {
    loud([
      'NO TORCH PEER: /usr/bin/python3 cannot import torch.',
      isRoot
        ? 'apt-get install -y python3-torch failed (no network?).'
        : 'Run as root: apt-get install -y python3-torch libopenblas0-pthread',
    ]);
    return { available: false, best: false, why: 'python3-torch is not installed' };
  }
  if (!blas?.includes('openblas')) {
    const why = blas ? `libblas.so.3 points to ${blas} (the reference BLAS), not OpenBLAS` : 'no libblas.so.3 alternative is registered';
    loud([
      'THE TORCH PEER IS NOT IN ITS BEST CONFIGURATION: ' + why + '.',
      'Its times are ~15x slower than PyTorch on OpenBLAS; a ratio against them flatters capgen.',
      isRoot
        ? 'apt-get install -y libopenblas0-pthread failed, or the alternative was set by hand: update-alternatives --auto ' + ALTERNATIVE
        : 'As root: apt-get install -y libopenblas0-pthread (and update-alternatives --auto ' + ALTERNATIVE + ')',
    ]);
    return { available: true, best: false, why };
  }
  return { available: true, best: true, why: '' };
}

/**
 * Writes what a peer needs from capgen's data into `dir`: features.f32 ([images, ...featureShape] float32)
 * and meta.json ({ images, featureShape, vocabSize, train/dev: [[imageRow, ...ids]], ...extra }).
 */
export function writePeerData(dir, { features, featureShape, vocabSize, train = [], dev = [], extra = {} }) {
  mkdirSync(dir, { recursive: true });
  const size = featureShape.reduce((a, b) => a * b, 1);
  writeFileSync(path.join(dir, 'features.f32'), new Uint8Array(features.buffer, features.byteOffset, features.byteLength));
  const row = (e) => [e.imageRow, ...e.ids];
  const meta = { images: features.length / size, featureShape, vocabSize, train: train.map(row), dev: dev.map(row), ...extra };
  writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
  return dir;
}

/** A fresh scratch folder for peer data (under the OS temp dir). */
export function peerDir(name) {
  const dir = path.join(os.tmpdir(), `capgen-bench-${name}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Runs a peer script with OPENBLAS_NUM_THREADS=1, echoing its output line by line (prefixed), and
 * resolves to the JSON of its `torch-result ` line (undefined when it failed).
 */
export function runPeer(script, args) {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [script, ...args], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let result;
    let tail = '';
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        if (line.startsWith('torch-result ')) result = JSON.parse(line.slice('torch-result '.length));
        else console.log(line);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      tail = (tail + chunk).slice(-2000);
    });
    child.on('close', (code) => {
      if (code !== 0) console.log(`torch: failed (exit ${code}): ${tail.trim().split('\n').slice(-3).join(' | ')}`);
      resolve(code === 0 ? result : undefined);
    });
  });
}

/** One line saying what the peer ran on, for the summary. */
export function describePeer(r) {
  if (!r?.peer) return 'torch peer: unknown configuration';
  const p = r.peer;
  return `torch peer: torch ${p.torch}, ${r.threads} torch thread(s), BLAS ${p.blas} at ${p.blasPaths.join(', ') || '-'}${p.blasDetail ? ` (${p.blasDetail})` : ''}${p.best ? '' : ' -- NOT its best configuration'}`;
}
