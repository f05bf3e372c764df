// The Transformer decoder: both engines' gradients against tfjs autodiff, causality, incremental
// decoding with cached keys/values against the full teacher-forced pass, inert padding, no leaks, and
// tiny training runs on both engines with an exact resume.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { decodeBatch, type DecodedCaption } from '../../src/decode/index.js';
import { readCheckpoint } from '../../src/model/checkpoint.js';
import { loadCheckpoint } from '../../src/engine/decoder.js';
import { mulberry32 as seededRandom } from '../../src/util/random.js';
import { TfjsDecoder } from '../../src/engine/tfjs-decoder.js';
import { OnnxStepDecoder } from '../../src/engine/onnx/step-decoder.js';
import { initialWeights, transformer, type TransformerSizes } from '../../src/model/transformer.js';
import { setLogLevel } from '../../src/log.js';
import { SPECIAL_IDS } from '../../src/run/formats.js';
import { Adam } from '../../src/train/adam.js';
import { buildBatch, disposeBatch, toTensors, type BuildOptions } from '../../src/train/batches.js';
import type { Example } from '../../src/train/data.js';
import { lossAndGrads } from '../../src/train/objective.js';
import { runTrain, type TrainConfig } from '../../src/train/run.js';
import { compareDecoding, compareEngines, expectEnginesEqual, maxAbsDiff, randomWeights } from '../engine/compare.js';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { tempDir } from '../helpers.js';
import { CLASSES, encoderIdentity, writeTinyRun } from '../train/fixtures.js';

/** onnxruntime-node loads (else its tests skip, or fail with CI set; the training runs use tfjs). */
const ort = !SKIP_ORT;

// Small but complete: 2 layers (the cache of a second layer), 2 heads, a 2x3 grid (rows != columns).
const sizes: TransformerSizes = {
  vocabSize: 9,
  featureSize: 2 * 3 * 4,
  dropout: 0.3,
  gridHeight: 2,
  gridWidth: 3,
  channels: 4,
  width: 8,
  layers: 2,
  heads: 2,
  ffnSize: 12,
  maxLength: 7,
};
const examples: Example[] = [
  { imageRow: 0, ids: Int32Array.from([4, 5, 6]) },
  { imageRow: 1, ids: Int32Array.from([7]) },
  { imageRow: 2, ids: Int32Array.from([8, 4, 5, 6, 7]) },
  { imageRow: 1, ids: Int32Array.from([3, 3]) },
];
const rand = seededRandom(11);
const features = Float32Array.from({ length: 3 * sizes.featureSize }, () => rand() * 2 - 1);

/** Teacher-forced logits [N][V] (inference) of a model over `picks`. */
function logitsOf(
  model: TfjsDecoder<TransformerSizes>,
  exs: Example[],
  picks: number[],
  opts: BuildOptions = {},
): { logits: number[][]; host: ReturnType<typeof buildBatch> } {
  const host = buildBatch(exs, picks, features, sizes.featureSize, opts);
  const b = toTensors(host, transformer.featureShape(model.sizes));
  const l = model.logits(b, { training: false });
  const logits = l.arraySync() as number[][];
  l.dispose();
  disposeBatch(b);
  return { logits, host };
}

const logSoftmax = (v: number[]) => {
  const m = Math.max(...v);
  const lse = m + Math.log(v.reduce((a, x) => a + Math.exp(x - m), 0));
  return v.map((x) => x - lse);
};

describe('transformer decoder', () => {
  beforeAll(async () => {
    setLogLevel({ quiet: true });
    await initBackend('cpu');
  });

  describe.skipIf(!ort)('onnx engine', () => {
    it('loss and every gradient equal tfjs autodiff (1e-5), with dropout, label smoothing and padding captions', async () => {
      const r = await compareEngines(transformer, sizes, { examples, featureRows: 3, seed: 7, labelSmoothing: 0.1 });
      expectEnginesEqual(r, expect);
      // Dropout is on: the loss differs from the same batch without it (the masks reach the graph).
      const plain = await compareEngines(transformer, { ...sizes, dropout: 0 }, { examples, featureRows: 3, seed: 7, labelSmoothing: 0.1 });
      expectEnginesEqual(plain, expect);
      expect(Math.abs(plain.onnx.loss - r.onnx.loss)).toBeGreaterThan(1e-3);
    });
  });

  it('is causal: changing word t+1 never changes the logits at positions <= t', () => {
    const model = new TfjsDecoder(transformer, sizes, randomWeights(transformer, sizes, 3));
    const long = examples[2]; // 5 words: positions 0..5
    for (let t = 0; t < long.ids.length; t++) {
      const changed = Int32Array.from(long.ids);
      changed[t] = changed[t] === 4 ? 5 : 4; // word t+1 of the input (input 0 is <start>)
      const a = logitsOf(model, [long], [0]).logits;
      const b = logitsOf(model, [{ ...long, ids: changed }], [0]).logits;
      // Input position t+1 holds the changed word: rows 0..t are identical, row t+1 is not.
      for (let p = 0; p <= t; p++)
        expect(maxAbsDiff(Float32Array.from(a[p]), Float32Array.from(b[p])), `position ${p}, word ${t + 1} changed`).toBeLessThan(1e-6);
      expect(maxAbsDiff(Float32Array.from(a[t + 1]), Float32Array.from(b[t + 1]))).toBeGreaterThan(1e-4);
    }
    model.dispose();
  });

  it('the image matters: other regions give other logits at every position', () => {
    const model = new TfjsDecoder(transformer, sizes, randomWeights(transformer, sizes, 3));
    const a = logitsOf(model, [examples[0]], [0]).logits;
    const b = logitsOf(model, [{ ...examples[0], imageRow: 2 }], [0]).logits;
    a.forEach((row, p) => expect(maxAbsDiff(Float32Array.from(row), Float32Array.from(b[p]))).toBeGreaterThan(1e-4));
    model.dispose();
  });

  it('padding (extra time steps, padding captions) changes no logit', () => {
    const model = new TfjsDecoder(transformer, sizes, randomWeights(transformer, sizes, 3));
    const picks = [0, 1, 2, 3];
    const plain = logitsOf(model, examples, picks);
    const padded = logitsOf(model, examples, picks, { extraPadding: 3, padTo: 7 }); // T = 9 > maxLength too
    expect(padded.host.timeSteps).toBe(plain.host.timeSteps + 3);
    expect(padded.logits).toHaveLength(plain.logits.length); // same scored rows, in the same (t, b) order
    plain.logits.forEach((row, k) => expect(maxAbsDiff(Float32Array.from(row), Float32Array.from(padded.logits[k]))).toBeLessThan(1e-5));
    model.dispose();
  });

  it('incremental decoding with cached keys/values equals the full forward pass at every position, without leaks', () => {
    const s = sizes;
    const model = new TfjsDecoder(transformer, s, randomWeights(transformer, s, 5));
    const picks = [0, 2, 3];
    const { logits, host } = logitsOf(model, examples, picks);
    // Expected log-probabilities by (caption, position).
    const want = new Map<string, number[]>();
    host.rows.forEach((row, k) => want.set(`${host.rowCaption[k]}:${Math.floor(row / host.batchSize)}`, logSoftmax(logits[k])));

    const before = tf.memory().numTensors;
    const feats = tf.tensor(
      picks.flatMap((p) => [...features.subarray(examples[p].imageRow * s.featureSize, (examples[p].imageRow + 1) * s.featureSize)]),
      [picks.length, ...transformer.featureShape(s)],
    );
    let state = model.initState(feats);
    let checked = 0;
    for (let t = 0; t < host.timeSteps; t++) {
      const tokens = tf.tensor1d(
        picks.map((p) => (t === 0 ? SPECIAL_IDS.start : (examples[p].ids[t - 1] ?? 0))),
        'int32',
      );
      const out = model.step(tokens, state, t);
      const lp = out.logProbs.arraySync() as number[][];
      // The cache grows by one position per step: [B, heads, t+1, dh] in each layer.
      expect(out.state.at(-1)!.shape).toEqual([picks.length, s.heads, t + 1, s.width / s.heads]);
      const att = out.attention!.arraySync() as number[][];
      att.forEach((row) => expect(row.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 5));
      expect(att[0]).toHaveLength(s.gridHeight * s.gridWidth);
      picks.forEach((_, b) => {
        const ref = want.get(`${b}:${t}`);
        if (!ref) return; // past this caption's end
        expect(maxAbsDiff(Float32Array.from(lp[b]), Float32Array.from(ref)), `caption ${b} position ${t}`).toBeLessThan(1e-5);
        checked++;
      });
      tf.dispose([tokens, out.logProbs, out.attention!, ...state]);
      state = out.state;
    }
    expect(checked).toBe(host.rows.length);
    // A position without an embedding is an error, not a silent reuse of another one.
    const past = tf.tensor1d(
      picks.map(() => 4),
      'int32',
    );
    expect(() => model.step(past, state, s.maxLength)).toThrow(/past the 7 word positions/);
    tf.dispose([past, feats, ...state]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it.skipIf(!ort)(
    'as ONNX init/step graphs (export, ONNX Runtime decoding): the tfjs log-probabilities and attention at every step (1e-5)',
    async () => {
      const r = await compareDecoding(transformer, sizes, { batch: 3, steps: 6, seed: 4 });
      expect(r.stateCount).toBe(4 * sizes.layers);
      expect(r.worst).toBeLessThan(1e-5);
    },
  );

  it.skipIf(SKIP_ORT)('captioning on ONNX Runtime (OnnxStepDecoder) gives the tfjs captions, from flat or [B, R, C] features', () => {
    const weights = randomWeights(transformer, sizes, 8);
    const model = new TfjsDecoder(transformer, sizes, weights);
    const onnx = OnnxStepDecoder.create(transformer, sizes, weights);
    expect(onnx).toBeDefined();
    const opts = { maxLength: sizes.maxLength - 2, beamSize: 2, lengthPenalty: 0 };
    const spatial = tf.tensor(features, [3, ...transformer.featureShape(sizes)]);
    const flat = tf.tensor(features, [3, sizes.featureSize]); // as eval and caption hold them
    const want = decodeBatch(model, spatial, opts).map((d) => d.tokens);
    expect(decodeBatch(onnx!, flat, opts).map((d) => d.tokens)).toEqual(want);
    expect(decodeBatch(onnx!, spatial, opts).map((d) => d.tokens)).toEqual(want);
    tf.dispose([spatial, flat]);
    model.dispose();
  });

  it('beam search reorders the key/value caches right: every beam scores what teacher forcing gives its words', () => {
    const model = new TfjsDecoder(transformer, sizes, randomWeights(transformer, sizes, 8));
    const feats = tf.tensor(features, [3, ...transformer.featureShape(sizes)]);
    const maxLength = sizes.maxLength - 2; // what train gives: maxCaptionLength + 2 positions
    // (No leak check here: the search code's own disposal of `attention` is the maps branch's work;
    // the step itself is checked leak-free above.)
    let decoded: DecodedCaption[] = [];
    tf.tidy(() => {
      decoded = decodeBatch(model, feats, { maxLength, beamSize: 3, lengthPenalty: 0 });
    });
    let beams = 0;
    decoded.forEach((d, image) => {
      for (const h of d.beams) {
        expect(h.length).toBe(h.tokens.length + 1); // every beam ended (at maxLength only <end> may follow)
        const { logits, host } = logitsOf(model, [{ imageRow: image, ids: Int32Array.from(h.tokens) }], [0]);
        const logProb = logits.reduce((sum, row, k) => sum + logSoftmax(row)[host.targets[k]], 0);
        expect(h.logProb).toBeCloseTo(logProb, 4);
        beams++;
      }
    });
    expect(beams).toBe(9);
    for (const d of decoded) expect(new Set(d.beams.map((h) => h.tokens.join(' '))).size).toBe(3); // an image's beams differ
    feats.dispose();
    model.dispose();
  });

  it('a training step leaks no tensors, and dropout needs the masks', () => {
    const model = new TfjsDecoder(transformer, sizes, initialWeights(sizes, 1));
    const opt = new Adam(model.variables, { learningRate: 0.01, clipNorm: 1 });
    const step = () => {
      const b = toTensors(
        buildBatch(examples, [0, 2, 3], features, sizes.featureSize, {
          dropout: { rate: sizes.dropout, seed: 2, sites: transformer.dropoutSites(sizes) },
        }),
        transformer.featureShape(sizes),
      );
      const r = lossAndGrads(model, b, { labelSmoothing: 0.1 });
      opt.apply(r.grads);
      tf.dispose(r.grads);
      disposeBatch(b);
    };
    step();
    const before = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(before);
    const plain = toTensors(buildBatch(examples, [0], features, sizes.featureSize), transformer.featureShape(sizes));
    expect(() => model.logits(plain, { training: true })).toThrow(/dropout masks/);
    disposeBatch(plain);
    opt.dispose();
    model.dispose();
  });

  it('sizes: defaults from the data, flags applied, width must split into heads', () => {
    const data = { vocabSize: 50, featureShape: [7, 7, 1024], dropout: 0.1, maxLength: 36 };
    const s = transformer.sizesFor(data, {});
    expect(s).toMatchObject({
      gridHeight: 7,
      gridWidth: 7,
      channels: 1024,
      featureSize: 7 * 7 * 1024,
      width: 256,
      layers: 1,
      heads: 8,
      ffnSize: 512,
      maxLength: 36,
    });
    expect(transformer.sizesFor(data, { width: 64, heads: 4, layers: 3, ffnSize: 100 })).toMatchObject({
      width: 64,
      heads: 4,
      layers: 3,
      ffnSize: 100,
    });
    expect(() => transformer.sizesFor(data, { width: 100, heads: 8 })).toThrow(/multiple of --heads/);
    expect(() => transformer.sizesFor({ ...data, featureShape: [1024] }, {})).toThrow(
      expect.objectContaining({ code: 'USAGE', hint: 'prepare with --pooling none' }),
    );
    expect(transformer.sizesFrom(s as unknown as Record<string, unknown>)).toEqual(s);
  });
});

// ---- training runs (the real train stage on a tiny spatial run) ----

/** The tiny generated run of test/train/fixtures.ts with its 16 values per image as a 2x2 grid of 4 channels. */
function writeSpatialRun(dir: string) {
  const tiny = writeTinyRun(dir);
  const file = path.join(tiny.runDir, 'prepare.json');
  const prep = JSON.parse(readFileSync(file, 'utf8'));
  prep.features.encoder = encoderIdentity({ pooling: 'none', featureShape: [2, 2, 4] });
  writeFileSync(file, JSON.stringify(prep));
  return tiny;
}

function config(runDir: string, over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    runDir,
    backend: 'cpu',
    decoder: 'transformer',
    engine: 'tfjs',
    labelSmoothing: 0.1,
    epochs: 2,
    batchSize: 8,
    learningRate: 0.005,
    warmupSteps: 4,
    clipNorm: 5,
    patience: 50,
    lrPatience: 50,
    lrFactor: 0.5,
    minLearningRate: 1e-5,
    width: 16,
    heads: 2,
    layers: 2,
    ffnSize: 32,
    dropout: 0.1,
    seed: 3,
    resume: false,
    logEveryBatches: 2,
    replicas: 1,
    ...over,
  };
}

async function lastWeights(runDir: string) {
  return (await readCheckpoint(path.join(runDir, 'train', 'last'))).weights;
}

function worstDiff(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  return Math.max(...Object.keys(a).map((n) => maxAbsDiff(a[n], b[n])));
}

describe('transformer training (tiny spatial run)', () => {
  beforeAll(async () => {
    setLogLevel({ quiet: true });
    await initBackend('cpu');
  });

  it('learns to name the image: after "<start> a" the class word of the image comes first', async () => {
    const tiny = writeSpatialRun(tempDir());
    // The ONNX engine where it loads: the same training as tfjs (tested below), several times faster.
    const r = await runTrain(config(tiny.runDir, { epochs: 30, learningRate: 0.003, warmupSteps: 7, engine: ort ? 'onnx' : 'tfjs' }), {
      openFeatures: tiny.openFeatures,
    });
    const h = r.state.history;
    expect(h.at(-1)!.trainLoss).toBeLessThan(h[0].trainLoss * 0.5);
    const { meta, model } = await loadCheckpoint(r.bestDir);
    expect(meta.architecture).toBe('transformer');
    const imgs = ['img0.jpg', 'img7.jpg', 'img13.jpg', 'img19.jpg']; // classes 0..3
    const feats = tf.tensor(
      imgs.flatMap((n) => [...tiny.features.get(n)!]),
      [4, 4, 4],
    );
    const s0 = model.initState(feats);
    const r1 = model.step(tf.tensor1d([1, 1, 1, 1], 'int32'), s0, 0);
    const r2 = model.step(tf.tensor1d(Array(4).fill(meta.vocab.tokens.indexOf('a')), 'int32'), r1.state, 1);
    const probs = r2.logProbs.exp().arraySync() as number[][];
    imgs.forEach((n, k) => {
      const best = probs[k].indexOf(Math.max(...probs[k]));
      expect(meta.vocab.tokens[best]).toBe(CLASSES[tiny.classOf.get(n)!]);
    });
    model.dispose();
  }, 120_000);

  it('resuming an interrupted run reaches the weights of an uninterrupted one (warm-up included); tfjs on 2 gradient replicas trains the same model as onnx', async () => {
    const [a, b, c] = [0, 1, 2].map(() => writeSpatialRun(tempDir()));
    const engine = ort ? 'onnx' : 'tfjs';
    // No --warmup-steps: the decoder's own warm-up of one epoch (7 steps of 8 over 54 captions).
    await runTrain(config(a.runDir, { engine, warmupSteps: undefined }), { openFeatures: a.openFeatures });
    let batches = 0;
    const stopped = await runTrain(config(b.runDir, { engine, warmupSteps: undefined }), {
      openFeatures: b.openFeatures,
      shouldStop: () => ++batches === 5,
    });
    expect(stopped.interrupted).toBe(true);
    expect(stopped.state.batch).toBe(5); // inside the warm-up
    const resumed = await runTrain(config(b.runDir, { engine, resume: true, seed: 999, learningRate: 1 }), {
      openFeatures: b.openFeatures,
    });
    expect(resumed.interrupted).toBe(false);
    const wa = await readCheckpoint(path.join(a.runDir, 'train', 'last'));
    expect(wa.meta.trainConfig).toMatchObject({ warmupSteps: 7 });
    expect(worstDiff(wa.weights, await lastWeights(b.runDir))).toBeLessThan(1e-6);
    // The other engine, data-parallel: other summation orders, float rounding that Adam's normalisation
    // magnifies for near-zero gradients of this tiny model; still far below what one step changes.
    await runTrain(config(c.runDir, { engine: 'tfjs', warmupSteps: undefined, replicas: 2 }), { openFeatures: c.openFeatures });
    expect(worstDiff(wa.weights, await lastWeights(c.runDir))).toBeLessThan(1e-4);
  }, 120_000);
});
