// Attention rows from greedy and beam search: each is a distribution over the regions, beam search
// carries the chosen hypothesis' rows through its reordering (checked against a step-by-step
// recomputation of that caption alone), batching changes nothing, and nothing is kept unless asked.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { attentionRegions, beamSearch, decodeBatch, decodeFeatures, greedySearch, type Hypothesis } from '../../src/decode/index.js';
import { mulberry32 as seededRandom } from '../../src/util/random.js';
import { initialWeights } from '../../src/model/merge-lstm.js';
import { MergeLstm } from '../../src/engine/tfjs-decoder.js';
import type { StepDecoder } from '../../src/model/step-decoder.js';
import { attendingModel, type AttendingSizes } from './attending-spec.js';

const START = 1;
const sizes: AttendingSizes = { vocabSize: 30, featureSize: 3 * 4 * 5, dropout: 0, height: 3, width: 4, channels: 5 };
const grid: [number, number] = [sizes.height, sizes.width];
const REGIONS = sizes.height * sizes.width;
const rand = seededRandom(5);
const images = Array.from({ length: 9 }, () => Float32Array.from({ length: sizes.featureSize }, () => rand() * 4 - 2));
const featureShape = [REGIONS, sizes.channels];

beforeAll(async () => {
  await initBackend('wasm');
});

function batchOf(rows: Float32Array[]): tf.Tensor {
  const flat = new Float32Array(rows.length * sizes.featureSize);
  rows.forEach((r, i) => flat.set(r, i * sizes.featureSize));
  return tf.tensor(flat, [rows.length, ...featureShape]);
}

/** The attention of each word of `tokens`, recomputed by feeding that caption to the model alone. */
function stepByStep(model: StepDecoder, image: Float32Array, tokens: number[]): number[][] {
  return tf.tidy(() => {
    let state = model.initState(batchOf([image]));
    let previous = START;
    return tokens.map((token, t) => {
      const out = model.step(tf.tensor1d([previous], 'int32'), state, t);
      state = out.state;
      previous = token;
      return Array.from(out.attention!.dataSync());
    });
  });
}

function expectDistributions(h: Hypothesis): void {
  expect(h.attention).toHaveLength(h.tokens.length);
  for (const row of h.attention!) {
    expect(row).toHaveLength(REGIONS);
    expect(row.every((w) => w >= 0)).toBe(true);
    expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
  }
}

function expectRowsClose(actual: number[][], expected: number[][]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((row, t) => row.forEach((w, r) => expect(w).toBeCloseTo(expected[t][r], 6)));
}

describe('attention rows in search', () => {
  it('greedy: one distribution over the regions per word, equal to a step-by-step recomputation', () => {
    const model = attendingModel(sizes, { seed: 5, endBias: 3 });
    const x = batchOf(images);
    const out = greedySearch(model, x, { maxLength: 8, attention: { grid } });
    const lengths = new Set(out.map((h) => h.tokens.length));
    expect(lengths.size).toBeGreaterThan(1); // rows leave the batch at different steps
    out.forEach((h, i) => {
      expectDistributions(h);
      expectRowsClose(h.attention!, stepByStep(model, images[i], h.tokens));
    });
    // maps differ between words and between images: the rows are not one row repeated
    const flat = out.flatMap((h) => h.attention!.map((r) => r.join(',')));
    expect(new Set(flat).size).toBeGreaterThan(flat.length / 2);
    x.dispose();
    model.dispose();
  });

  it("beam size 1 gives greedy's words and attention rows", () => {
    const model = attendingModel(sizes, { seed: 4, endBias: 3 });
    const x = batchOf(images);
    const greedy = greedySearch(model, x, { maxLength: 8, attention: { grid } });
    const beam = beamSearch(model, x, { maxLength: 8, beamSize: 1, lengthPenalty: 0, attention: { grid } });
    beam.forEach((b, i) => {
      expect(b.tokens).toEqual(greedy[i].tokens);
      expectRowsClose(b.attention!, greedy[i].attention!);
      expect(b.attentionGrid).toEqual(grid);
    });
    x.dispose();
    model.dispose();
  });

  it("beam search carries each final beam's own rows through the reordering", () => {
    const model = attendingModel(sizes, { seed: 5, endBias: 2 });
    const x = batchOf(images);
    const greedy = greedySearch(model, x, 8);
    const out = beamSearch(model, x, { maxLength: 8, beamSize: 4, lengthPenalty: 0.7, attention: { grid } });
    // the search must have reordered: some best beam is not the greedy caption
    expect(out.some((d, i) => d.tokens.join() !== greedy[i].tokens.join())).toBe(true);
    out.forEach((d, i) => {
      expect(d.beams.length).toBeGreaterThan(1);
      for (const b of d.beams) {
        expectDistributions(b);
        expectRowsClose(b.attention!, stepByStep(model, images[i], b.tokens));
      }
      expect(d.attention).toBe(d.beams[0].attention);
    });
    x.dispose();
    model.dispose();
  });

  it('batched over images equals one image at a time, greedy and beam 3 (rank-4 growing cache in the state)', async () => {
    const model = attendingModel(sizes, { seed: 4, endBias: 4 });
    for (const beamSize of [1, 3]) {
      const opts = { maxLength: 8, beamSize, lengthPenalty: 0.5, attention: { grid }, featureShape };
      const batched = await decodeFeatures(model, images, { ...opts, batchSize: 4 });
      const single = await decodeFeatures(model, images, { ...opts, batchSize: 1 });
      batched.forEach((d, i) => {
        expect(d.tokens).toEqual(single[i].tokens);
        expectRowsClose(d.attention!, single[i].attention!);
      });
    }
    model.dispose();
  });

  it('keeps no rows unless asked, and leaves no tensors behind either way', async () => {
    const model = attendingModel(sizes, { seed: 5, endBias: 2 });
    const opts = { maxLength: 8, lengthPenalty: 0, featureShape, batchSize: 4 };
    await decodeFeatures(model, images, { ...opts, beamSize: 2 }); // warm-up
    const before = tf.memory().numTensors;
    for (const beamSize of [1, 3]) {
      const plain = await decodeFeatures(model, images, { ...opts, beamSize });
      for (const d of plain) {
        expect(d.attention).toBeUndefined();
        expect(d.attentionGrid).toBeUndefined();
        for (const b of d.beams) expect(b.attention).toBeUndefined();
      }
      const withMaps = await decodeFeatures(model, images, { ...opts, beamSize, attention: { grid } });
      expect(withMaps.map((d) => d.tokens)).toEqual(plain.map((d) => d.tokens));
    }
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('finds which models attend; asking a merge model for maps, or a wrong grid, is an error without leaks', () => {
    const attending = attendingModel(sizes, { seed: 6 });
    expect(attentionRegions(attending, featureShape)).toBe(REGIONS);
    const mergeSizes = { vocabSize: 30, embeddingSize: 8, hiddenSize: 8, featureSize: 6, dropout: 0 };
    const merge = new MergeLstm(mergeSizes, initialWeights(mergeSizes, 1));
    expect(attentionRegions(merge, [6])).toBeUndefined();
    const before = tf.memory().numTensors;
    const pooled = tf.zeros([2, 6]);
    for (const beamSize of [1, 2]) {
      expect(() => decodeBatch(merge, pooled, { maxLength: 5, beamSize, lengthPenalty: 0, attention: { grid: [2, 3] } })).toThrow(
        /returns no attention/,
      );
    }
    const x = batchOf(images.slice(0, 2));
    for (const beamSize of [1, 2]) {
      expect(() => decodeBatch(attending, x, { maxLength: 5, beamSize, lengthPenalty: 0, attention: { grid: [2, 2] } })).toThrow(
        /does not fit/,
      );
    }
    tf.dispose([pooled, x]);
    expect(tf.memory().numTensors).toBe(before);
    attending.dispose();
    merge.dispose();
  });
});
