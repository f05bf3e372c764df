// Greedy and beam search against answers computed independently in plain JS (transition-table
// models, brute-force enumeration), plus batching, special tokens and tensor leaks on a real MergeLstm.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { beamSearch, decodeFeatures, greedySearch, type Hypothesis } from '../../src/decode/index.js';
import { initialWeights, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { MergeLstm } from '../../src/engine/tfjs-decoder.js';
import { mulberry32 } from '../../src/util/random.js';
import { allCaptions, f32, TableModel } from './table-model.js';

const END = 2;
const WORDS_FROM = 4; // ids 0..3 are pad, start, end, unk

beforeAll(async () => {
  await initBackend('wasm');
});

/** Greedy by hand: the best allowed next word each step; only the end token once maxLength words are out. */
function greedyByHand(m: TableModel, maxLength: number): Hypothesis {
  let prev = 1;
  const tokens: number[] = [];
  let logProb = 0;
  for (let t = 0; t <= maxLength; t++) {
    const row = m.logTable[prev];
    let best = END;
    if (t < maxLength) for (let id = WORDS_FROM; id < row.length; id++) if (row[id] > row[best]) best = id;
    logProb += f32(row[best]);
    if (best === END) return { tokens, logProb, score: logProb, length: t + 1 };
    tokens.push(best);
    prev = best;
  }
  throw new Error('unreachable');
}

function randomTable(vocabSize: number, seed: number): number[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: vocabSize }, () => Array.from({ length: vocabSize }, () => 0.02 + rand() ** 2));
}

const oneImage = (): tf.Tensor2D => tf.tensor2d([[0.5]]);

describe('search on a transition table', () => {
  // ids: 4 'a', 5 'b', 6 'c'. From start, 'a' is likelier than 'b', but 'a' leads nowhere in
  // particular while 'b' almost surely ends: greedy takes a-c-<end> (0.5*0.35*0.34 = 0.0595),
  // the best caption is b-<end> (0.4*0.9 = 0.36).
  const probs = [
    [1, 1, 1, 1, 1, 1, 1],
    [0.01, 0.01, 0.01, 0.01, 0.5, 0.4, 0.1],
    [1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1, 1, 1],
    [0.01, 0.01, 0.3, 0.01, 0.05, 0.3, 0.35],
    [0.01, 0.01, 0.9, 0.01, 0.05, 0.05, 0.05],
    [0.01, 0.01, 0.34, 0.01, 0.33, 0.33, 0.01],
  ];

  it('greedy follows the most likely word and is myopic; beam search finds the likelier caption', () => {
    const m = new TableModel(probs);
    const features = oneImage();
    const [greedy] = greedySearch(m, features, 10);
    expect(greedy).toEqual(greedyByHand(m, 10));
    expect(greedy.tokens).toEqual([4, 6]);
    const [beam] = beamSearch(m, features, { maxLength: 10, beamSize: 2, lengthPenalty: 0 });
    expect(beam.tokens).toEqual([5]);
    expect(beam.logProb).toBeGreaterThan(greedy.logProb);
    expect(beam.logProb).toBeCloseTo(Math.log(0.4 / 1.04) + Math.log(0.9 / 1.08), 6);
    expect(beam.beams).toHaveLength(2);
    expect(beam.beams[0].score).toBeGreaterThanOrEqual(beam.beams[1].score);
    tf.dispose(features);
    m.dispose();
  });

  it('a beam wide enough to keep everything finds the brute-force optimum, with and without length normalisation', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const m = new TableModel(randomTable(7, seed));
      const features = oneImage();
      const candidates = allCaptions(m, 4); // 3 + 9 + 27 + 81 = 120 captions
      expect(candidates).toHaveLength(120);
      for (const alpha of [0, 0.7, 1]) {
        const scored = candidates.map((c) => ({ ...c, score: c.logProb / Math.pow(c.length, alpha) })).sort((a, b) => b.score - a.score);
        const [beam] = beamSearch(m, features, { maxLength: 4, beamSize: 128, lengthPenalty: alpha });
        expect(beam.tokens).toEqual(scored[0].tokens);
        expect(beam.score).toBeCloseTo(scored[0].score, 5);
        // the final beams are the best captions overall, in order
        expect(beam.beams.slice(0, 5).map((b) => b.tokens)).toEqual(scored.slice(0, 5).map((c) => c.tokens));
      }
      tf.dispose(features);
      m.dispose();
    }
  });

  it('beam size 1 gives the greedy caption on random tables', () => {
    for (const seed of [11, 12, 13, 14]) {
      const m = new TableModel(randomTable(9, seed));
      const features = oneImage();
      const [greedy] = greedySearch(m, features, 6);
      const [beam] = beamSearch(m, features, { maxLength: 6, beamSize: 1, lengthPenalty: 0 });
      expect(beam.tokens).toEqual(greedy.tokens);
      expect(beam.logProb).toBeCloseTo(greedy.logProb, 9);
      tf.dispose(features);
      m.dispose();
    }
  });

  it('never emits pad, start or unk, even when the model prefers them, and stops at maxLength words', () => {
    // specials dominate every row; the end token is nearly impossible
    const row = [5, 5, 1e-6, 9, 0.2, 0.3, 0.1];
    const m = new TableModel(Array.from({ length: 7 }, () => row));
    const features = oneImage();
    for (const beamSize of [1, 2, 4]) {
      const [out] =
        beamSize === 1
          ? greedySearch(m, features, 5).map((h) => ({ ...h, beams: [h] }))
          : beamSearch(m, features, { maxLength: 5, beamSize, lengthPenalty: 0 });
      for (const h of out.beams) {
        expect(h.tokens.every((id) => id >= WORDS_FROM)).toBe(true);
        expect(h.tokens).toHaveLength(5);
        expect(h.length).toBe(6); // 5 words, then the forced end token
      }
      expect(out.tokens).toEqual([5, 5, 5, 5, 5]);
    }
    tf.dispose(features);
    m.dispose();
  });
});

describe('search on a random-weight MergeLstm', () => {
  const sizes: MergeLstmSizes = { vocabSize: 50, embeddingSize: 16, hiddenSize: 24, featureSize: 12, dropout: 0 };
  const rand = mulberry32(7);
  const features = Array.from({ length: 11 }, () => Float32Array.from({ length: sizes.featureSize }, () => rand() * 4 - 2));

  function model(biasUnk = 0): MergeLstm {
    const w = initialWeights(sizes, 3);
    // a stronger output layer so that captions differ between images and end at various lengths
    w['output.kernel'] = w['output.kernel'].map((x) => x * 6);
    w['image.kernel'] = w['image.kernel'].map((x) => x * 3);
    w['output.bias'][2] = 1.5;
    for (const id of [0, 1, 3]) w['output.bias'][id] = biasUnk;
    return new MergeLstm(sizes, w);
  }

  it('batched decoding equals one image at a time (greedy and beam 3)', async () => {
    const m = model();
    for (const beamSize of [1, 3]) {
      const opts = { maxLength: 12, beamSize, lengthPenalty: 0.5 };
      const batched = await decodeFeatures(m, features, { ...opts, batchSize: 4 });
      const single = await decodeFeatures(m, features, { ...opts, batchSize: 1 });
      expect(batched.map((d) => d.tokens)).toEqual(single.map((d) => d.tokens));
      batched.forEach((d, i) => expect(d.logProb).toBeCloseTo(single[i].logProb, 4));
      const lengths = new Set(batched.map((d) => d.tokens.length));
      expect(lengths.size).toBeGreaterThan(1); // rows end at different steps: the batch shrinks mid-way
    }
    m.dispose();
  });

  it('a list read on demand (eval reads the cache so) is read one batch at a time and decodes the same', async () => {
    const m = model();
    const opts = { maxLength: 12, beamSize: 2, lengthPenalty: 0.5, batchSize: 4 };
    const fromArray = await decodeFeatures(m, features, opts);
    let decodedSoFar = 0;
    const readAhead: number[] = [];
    const lazy = {
      length: features.length,
      get: (i: number) => {
        readAhead.push(i - decodedSoFar); // how far past the decoded images a read reaches
        return features[i];
      },
    };
    const fromList = await decodeFeatures(m, lazy, { ...opts, onProgress: (done) => (decodedSoFar = done) });
    expect(fromList.map((d) => d.tokens)).toEqual(fromArray.map((d) => d.tokens));
    expect(readAhead).toHaveLength(features.length);
    expect(Math.max(...readAhead)).toBeLessThan(opts.batchSize); // never more than the current batch
    m.dispose();
  });

  it('beam size 1 equals greedy', () => {
    const m = model();
    const x = tf.tensor2d(
      features.flatMap((f) => [...f]),
      [features.length, sizes.featureSize],
    );
    const greedy = greedySearch(m, x, 12);
    const beam = beamSearch(m, x, { maxLength: 12, beamSize: 1, lengthPenalty: 0 });
    expect(beam.map((b) => b.tokens)).toEqual(greedy.map((g) => g.tokens));
    beam.forEach((b, i) => expect(b.logProb).toBeCloseTo(greedy[i].logProb, 5));
    x.dispose();
    m.dispose();
  });

  it('beam search scores at least as well as greedy under its own ranking', async () => {
    const m = model();
    const greedy = await decodeFeatures(m, features, { maxLength: 12, beamSize: 1, lengthPenalty: 0 });
    const beam = await decodeFeatures(m, features, { maxLength: 12, beamSize: 4, lengthPenalty: 0 });
    beam.forEach((b, i) => expect(b.logProb).toBeGreaterThanOrEqual(greedy[i].logProb - 1e-4));
    m.dispose();
  });

  it('masks special tokens the model prefers', async () => {
    const m = model(8); // pad, start and unk get a large output bias
    const x = tf.tensor2d(features[0], [1, sizes.featureSize]);
    const raw = tf.tidy(
      () =>
        m
          .step(tf.tensor1d([1], 'int32'), m.initState(x))
          .logProbs.argMax(1)
          .dataSync()[0],
    );
    expect([0, 1, 3]).toContain(raw); // unmasked, the model would emit a special token
    for (const beamSize of [1, 3]) {
      const out = await decodeFeatures(m, features, { maxLength: 8, beamSize, lengthPenalty: 0 });
      for (const d of out) for (const h of d.beams) expect(h.tokens.every((id) => id >= WORDS_FROM && id < sizes.vocabSize)).toBe(true);
    }
    x.dispose();
    m.dispose();
  });

  it('leaves no tensors behind', async () => {
    const m = model();
    await decodeFeatures(m, features, { maxLength: 6, beamSize: 2, lengthPenalty: 0.7, batchSize: 5 }); // warm-up
    const before = tf.memory().numTensors;
    for (const beamSize of [1, 3]) await decodeFeatures(m, features, { maxLength: 12, beamSize, lengthPenalty: 0.7, batchSize: 4 });
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});
