// The PyTorch peers of the benchmarks must be the same model as capgen's: the merge decoder in
// bench/torch_peer.py, loaded from capgen's weight layout, gives capgen's teacher-forced logits, and
// bench/decode_torch.py's greedy captions are capgen's, word for word. Skipped without Debian's python3-torch.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, writePeerData } from '../../bench/lib/torch-peer.mjs';
import { initBackend } from '../../src/backend/index.js';
import { greedySearch } from '../../src/decode/greedy.js';
import { mulberry32 as seededRandom } from '../../src/util/random.js';
import { WEIGHT_NAMES, weightShapes, type MergeLstmSizes, type Weights } from '../../src/model/merge-lstm.js';
import { MergeLstm } from '../../src/engine/tfjs-decoder.js';
import { buildBatch, disposeBatch, toTensors } from '../../src/train/batches.js';
import type { Example } from '../../src/train/data.js';
import { REPO_ROOT, tempDir } from '../helpers.js';

const HAS_TORCH = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!HAS_TORCH)
  process.stderr.write(`note: ${PYTHON} cannot import torch (apt-get install python3-torch): the torch peer tests are skipped\n`);

const sizes: MergeLstmSizes = { vocabSize: 12, embeddingSize: 6, hiddenSize: 5, featureSize: 7, dropout: 0 };

function randomWeights(seed: number): Weights {
  const rand = seededRandom(seed);
  const shapes = weightShapes(sizes);
  const w = {} as Weights;
  for (const n of WEIGHT_NAMES) w[n] = Float32Array.from({ length: shapes[n].reduce((a, d) => a * d, 1) }, () => 2 * rand() - 1);
  return w;
}

function writeWeights(file: string, w: Weights): void {
  const total = WEIGHT_NAMES.reduce((n, k) => n + w[k].length, 0);
  const flat = new Float32Array(total);
  let offset = 0;
  for (const k of WEIGHT_NAMES) {
    flat.set(w[k], offset);
    offset += w[k].length;
  }
  writeFileSync(file, new Uint8Array(flat.buffer));
}

/** Runs Python with bench/ on its path; stdin and stdout are JSON. */
function python(code: string, input: unknown): unknown {
  const r = spawnSync(PYTHON, ['-c', code], { input: JSON.stringify(input), encoding: 'utf8', cwd: path.join(REPO_ROOT, 'bench') });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe.skipIf(!HAS_TORCH)('torch peer', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });
  const dir = tempDir('capgen-torch-peer-');
  const weights = randomWeights(9); // seed 9: greedy captions of 8, 0, 2, 1, 5 and 0 words
  const weightsFile = path.join(dir, 'weights.bin');
  writeWeights(weightsFile, weights);
  const rand = seededRandom(9);
  const images = 6;
  const features = Float32Array.from({ length: images * sizes.featureSize }, () => rand() * 2);

  it('bench/torch_peer.py MergeLstm with capgen weights gives capgen teacher-forced logits (1e-5)', () => {
    const examples: Example[] = [
      { imageRow: 0, ids: Int32Array.from([4, 5, 6, 11]) },
      { imageRow: 3, ids: Int32Array.from([7]) },
      { imageRow: 5, ids: Int32Array.from([8, 4, 9]) },
    ];
    const model = new MergeLstm(sizes, weights);
    const host = buildBatch(examples, [0, 1, 2], features, sizes.featureSize);
    const batch = toTensors(host);
    const logits = model.logits(batch, { training: false });
    const ours = logits.arraySync() as number[][];
    tf.dispose(logits);
    disposeBatch(batch);
    model.dispose();

    const T = host.timeSteps;
    const B = host.batchSize;
    const inputs = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => host.inputs[t * B + b]));
    const theirs = python(
      `import json, sys, torch, torch_peer as peer
a = json.load(sys.stdin); s = a["sizes"]
m = peer.MergeLstm(s["vocabSize"], s["featureSize"], s["embeddingSize"], s["hiddenSize"], dropout=0.0)
m.load_capgen_weights(peer.read_capgen_weights(a["weights"], peer.merge_shapes(s["vocabSize"], s["featureSize"], s["embeddingSize"], s["hiddenSize"])))
m.eval()
x = torch.tensor(a["inputs"])
with torch.no_grad():
    out = m(torch.tensor(a["features"]), x, torch.ones_like(x, dtype=torch.bool))
print(json.dumps(out.reshape(x.shape[0], x.shape[1], -1).tolist()))`,
      {
        sizes,
        weights: weightsFile,
        inputs,
        features: examples.map((e) => [...features.subarray(e.imageRow * sizes.featureSize, (e.imageRow + 1) * sizes.featureSize)]),
      },
    ) as number[][][];
    expect(ours.length).toBe(host.rows.length);
    host.rows.forEach((row, k) => {
      const want = theirs[host.rowCaption[k]][Math.floor(row / B)];
      expect(want.length).toBe(sizes.vocabSize);
      want.forEach((v, j) => expect(Math.abs(ours[k][j] - v)).toBeLessThan(1e-5));
    });
  });

  it('capgen weights written back by the peer are the same arrays (layout round trip)', () => {
    const back = path.join(dir, 'back.bin');
    python(
      `import json, sys, torch_peer as peer
a = json.load(sys.stdin); s = a["sizes"]
m = peer.MergeLstm(s["vocabSize"], s["featureSize"], s["embeddingSize"], s["hiddenSize"])
m.load_capgen_weights(peer.read_capgen_weights(a["weights"], peer.merge_shapes(s["vocabSize"], s["featureSize"], s["embeddingSize"], s["hiddenSize"])))
peer.save_capgen_weights(m, a["out"])
print("{}")`,
      { sizes, weights: weightsFile, out: back },
    );
    expect(new Uint8Array(readFileSync(back))).toEqual(new Uint8Array(readFileSync(weightsFile)));
  });

  it('bench/decode_torch.py gives capgen greedy captions word for word, stopping at the end token', () => {
    const maxLength = 8;
    const peerData = writePeerData(path.join(dir, 'decode'), {
      features,
      featureShape: [sizes.featureSize],
      vocabSize: sizes.vocabSize,
      extra: { sizes, maxLength },
    });
    const out = path.join(dir, 'captions.json');
    const r = spawnSync(
      PYTHON,
      [
        path.join(REPO_ROOT, 'bench', 'decode_torch.py'),
        '--data',
        peerData,
        '--weights',
        weightsFile,
        '--batch',
        '4',
        '--threads',
        '1',
        '--out',
        out,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/BLAS /);
    const theirs = JSON.parse(readFileSync(out, 'utf8')) as number[][];

    const model = new MergeLstm(sizes, weights);
    const f = tf.tensor2d(features, [images, sizes.featureSize]);
    const ours = greedySearch(model, f, maxLength).map((h) => h.tokens);
    f.dispose();
    model.dispose();
    expect(theirs).toEqual(ours);
    // Some captions end mid-way, some run to the limit: both stopping rules are exercised.
    expect(ours.some((c) => c.length > 0 && c.length < maxLength)).toBe(true);
    expect(ours.some((c) => c.length === maxLength)).toBe(true);
  });
});
