// Greedy and beam search on ONNX Runtime's search step graph (top-k inside the graph, state kept as
// ONNX Runtime's arrays, rows picked in JavaScript) against the same search on tfjs: the same words,
// scores and attention rows, for every decoder, with captions that end early and at maxLength; and
// sampling draws the same captions on both.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { decodeBatch, sampleSearch, type DecodedCaption } from '../../src/decode/index.js';
import { startSearch } from '../../src/decode/search-steps.js';
import { OnnxStepDecoder } from '../../src/engine/onnx/step-decoder.js';
import type { BaseSizes, DecoderSpec } from '../../src/model/decoder.js';
import { attentionLstm, type AttentionLstmSizes } from '../../src/model/attention-lstm.js';
import { mergeLstm, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { TfjsDecoder } from '../../src/engine/tfjs-decoder.js';
import { transformer, type TransformerSizes } from '../../src/model/transformer.js';
import { SPECIAL_IDS } from '../../src/run/formats.js';
import { mulberry32 as seededRandom } from '../../src/util/random.js';
import { randomWeights } from '../engine/compare.js';
import { SKIP_ORT } from '../features/onnx-helpers.js';

const merge: MergeLstmSizes = { vocabSize: 13, embeddingSize: 6, hiddenSize: 8, featureSize: 10, dropout: 0 };
const attention: AttentionLstmSizes = {
  vocabSize: 13,
  featureSize: 2 * 3 * 5,
  dropout: 0,
  mapHeight: 2,
  mapWidth: 3,
  channels: 5,
  projectionSize: 4,
  embeddingSize: 6,
  hiddenSize: 8,
  attentionSize: 5,
  attentionPenalty: 1,
};
const transformerSizes: TransformerSizes = {
  vocabSize: 13,
  featureSize: 2 * 3 * 4,
  dropout: 0,
  gridHeight: 2,
  gridWidth: 3,
  channels: 4,
  width: 8,
  layers: 2,
  heads: 2,
  ffnSize: 12,
  maxLength: 9,
};

const cases: { name: string; spec: DecoderSpec; sizes: BaseSizes; grid?: [number, number] }[] = [
  { name: 'merge', spec: mergeLstm as DecoderSpec, sizes: merge },
  { name: 'attention', spec: attentionLstm as DecoderSpec, sizes: attention, grid: [2, 3] },
  { name: 'transformer', spec: transformer as DecoderSpec, sizes: transformerSizes, grid: [2, 3] },
];

/** The end token's output bias raised so that some captions end early (random weights rarely end). */
function weightsWithEnds(spec: DecoderSpec, sizes: BaseSizes, seed: number) {
  const w = randomWeights(spec, sizes, seed);
  w['output.bias'][SPECIAL_IDS.end] += 1.2; // every decoder's vocabulary layer is output.kernel/bias
  return w;
}

function expectSameCaptions(a: DecodedCaption[], b: DecodedCaption[]): void {
  expect(b.length).toBe(a.length);
  a.forEach((x, i) => {
    expect(b[i].beams.map((h) => h.tokens)).toEqual(x.beams.map((h) => h.tokens));
    x.beams.forEach((h, j) => {
      expect(Math.abs(b[i].beams[j].logProb - h.logProb)).toBeLessThan(1e-4);
      (h.attention ?? []).forEach((row, k) =>
        row.forEach((v, r) => expect(Math.abs((b[i].beams[j].attention as number[][])[k][r] - v)).toBeLessThan(1e-5)),
      );
      expect(b[i].beams[j].attention?.length).toBe(h.attention?.length);
    });
  });
}

describe.skipIf(SKIP_ORT)('search on ONNX Runtime (top-k in the step graph) equals search on tfjs', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  for (const c of cases) {
    it(`${c.name}: greedy and beam 3, maxLength 6, with attention rows where the decoder attends`, () => {
      const weights = weightsWithEnds(c.spec, c.sizes, 21);
      const onnx = OnnxStepDecoder.create(c.spec, c.sizes, weights);
      expect(onnx, 'ONNX Runtime synchronous sessions').toBeDefined();
      const ref = new TfjsDecoder(c.spec, c.sizes, weights, { fused: false });
      const rand = seededRandom(5);
      const images = 7;
      const features = tf.tensor(
        Float32Array.from({ length: images * c.sizes.featureSize }, () => rand() * 2 - 1),
        [images, ...c.spec.featureShape(c.sizes)],
      );
      try {
        let endedEarly = 0;
        for (const beamSize of [1, 3]) {
          const opts = { maxLength: 6, beamSize, lengthPenalty: 0, ...(c.grid ? { attention: { grid: c.grid } } : {}) };
          const before = tf.memory().numTensors;
          const got = decodeBatch(onnx as OnnxStepDecoder, features, opts);
          expect(tf.memory().numTensors).toBe(before); // the ONNX search holds no tfjs tensors
          const want = decodeBatch(ref, features, opts);
          expectSameCaptions(want, got);
          endedEarly += got.filter((d) => d.length <= 6).length;
        }
        expect(endedEarly, 'some captions end before maxLength, so rows are dropped mid-search').toBeGreaterThan(0);
      } finally {
        features.dispose();
        ref.dispose();
      }
    });
  }

  it('sampling draws the same captions from the same seed on ONNX Runtime and tfjs (every decoder)', () => {
    for (const c of cases) {
      const weights = weightsWithEnds(c.spec, c.sizes, 22);
      const onnx = OnnxStepDecoder.create(c.spec, c.sizes, weights) as OnnxStepDecoder;
      const ref = new TfjsDecoder(c.spec, c.sizes, weights, { fused: false });
      const rand = seededRandom(6);
      const features = tf.tensor(
        Float32Array.from({ length: 12 * c.sizes.featureSize }, () => rand() * 2 - 1),
        [12, ...c.spec.featureShape(c.sizes)],
      );
      try {
        const got = sampleSearch(onnx, features, { maxLength: 6, seed: 9 });
        const want = sampleSearch(ref, features, { maxLength: 6, seed: 9 });
        expect(
          got.map((h) => h.tokens),
          c.name,
        ).toEqual(want.map((h) => h.tokens));
        got.forEach((h, i) => expect(Math.abs(h.logProb - want[i].logProb)).toBeLessThan(1e-4));
        expect(new Set(want.map((h) => h.tokens.join(' '))).size, c.name).toBeGreaterThan(6); // they differ: it samples
      } finally {
        features.dispose();
        ref.dispose();
      }
    }
  });

  it('K samples per image (the state computed once, rows repeated) draw what K copies of each image row draw (tfjs and ONNX Runtime)', () => {
    for (const c of cases) {
      const weights = weightsWithEnds(c.spec, c.sizes, 23);
      const rand = seededRandom(7);
      const rows = Float32Array.from({ length: 4 * c.sizes.featureSize }, () => rand() * 2 - 1);
      const copies = new Float32Array(4 * 3 * c.sizes.featureSize);
      for (let i = 0; i < 12; i++)
        copies.set(
          rows.subarray(Math.floor(i / 3) * c.sizes.featureSize, (Math.floor(i / 3) + 1) * c.sizes.featureSize),
          i * c.sizes.featureSize,
        );
      const features = tf.tensor(rows, [4, ...c.spec.featureShape(c.sizes)]);
      const repeated = tf.tensor(copies, [12, ...c.spec.featureShape(c.sizes)]);
      const ref = new TfjsDecoder(c.spec, c.sizes, weights, { fused: false });
      try {
        for (const model of [ref, OnnxStepDecoder.create(c.spec, c.sizes, weights) as OnnxStepDecoder]) {
          const got = sampleSearch(model, features, { maxLength: 6, seed: 12, samplesPerImage: 3 });
          const want = sampleSearch(model, repeated, { maxLength: 6, seed: 12 });
          expect(
            got.map((h) => h.tokens),
            c.name,
          ).toEqual(want.map((h) => h.tokens));
          got.forEach((h, i) => expect(Math.abs(h.logProb - want[i].logProb)).toBeLessThan(1e-5));
          expect(new Set(got.slice(0, 3).map((h) => h.tokens.join(' '))).size, c.name).toBeGreaterThan(1); // an image's samples differ
        }
      } finally {
        tf.dispose([features, repeated]);
        ref.dispose();
      }
    }
  });

  it('a decoder with weights as inputs follows setWeights: equal to a decoder baked with those weights (greedy, beam 3, sampling)', () => {
    for (const c of cases) {
      const live = OnnxStepDecoder.createWithWeightInputs(c.spec, c.sizes) as OnnxStepDecoder;
      const rand = seededRandom(8);
      const features = tf.tensor(
        Float32Array.from({ length: 10 * c.sizes.featureSize }, () => rand() * 2 - 1),
        [10, ...c.spec.featureShape(c.sizes)],
      );
      try {
        expect(() => live.startSearch(features), c.name).toThrow(/setWeights/);
        const outputs: string[] = [];
        for (const seed of [31, 32]) {
          const weights = weightsWithEnds(c.spec, c.sizes, seed);
          live.setWeights(weights);
          const baked = OnnxStepDecoder.create(c.spec, c.sizes, weights) as OnnxStepDecoder;
          for (const opts of [
            { beamSize: 1, maxLength: 7, lengthPenalty: 0 },
            { beamSize: 3, maxLength: 7, lengthPenalty: 0 },
          ]) {
            const got = decodeBatch(live, features, opts);
            const want = decodeBatch(baked, features, opts);
            expect(
              got.map((h) => h.tokens),
              `${c.name} beam ${opts.beamSize}`,
            ).toEqual(want.map((h) => h.tokens));
            got.forEach((h, i) => expect(Math.abs(h.logProb - want[i].logProb)).toBeLessThan(1e-4));
            outputs.push(JSON.stringify(got.map((h) => [h.tokens, h.logProb.toFixed(3)])));
          }
          const sampled = sampleSearch(live, features, { maxLength: 7, seed: 4 });
          expect(sampled.map((h) => h.tokens)).toEqual(sampleSearch(baked, features, { maxLength: 7, seed: 4 }).map((h) => h.tokens));
        }
        // the second setWeights changed what it decodes (the comparisons above are not of one output twice)
        expect(outputs.slice(0, 2), c.name).not.toEqual(outputs.slice(2));
      } finally {
        features.dispose();
      }
    }
  });

  it('startSearch picks the decoder-owned search for ONNX Runtime and the tfjs one otherwise', () => {
    const weights = randomWeights(mergeLstm as DecoderSpec, merge, 3);
    const onnx = OnnxStepDecoder.create(mergeLstm as DecoderSpec, merge, weights) as OnnxStepDecoder;
    const ref = new TfjsDecoder(mergeLstm as DecoderSpec, merge, weights, { fused: false });
    const features = tf.zeros([2, merge.featureSize]);
    try {
      const before = tf.memory().numTensors;
      const a = startSearch(onnx, features);
      expect(tf.memory().numTensors).toBe(before);
      a.dispose();
      const b = startSearch(ref, features);
      expect(tf.memory().numTensors).toBeGreaterThan(before); // tfjs state tensors
      b.dispose();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      features.dispose();
      ref.dispose();
    }
  });
});
