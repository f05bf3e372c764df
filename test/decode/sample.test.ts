// Sampling (src/decode/sample.ts) on transition-table models: the captions drawn follow the model's
// distribution renormalised over the allowed words (checked against exact probabilities by brute
// force), are repeatable from the seed and independent of the batch around each image.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { greedySearch, sampleSearch } from '../../src/decode/index.js';
import { mulberry32 } from '../../src/util/random.js';
import { f32, TableModel } from './table-model.js';

const END = 2;
const WORDS_FROM = 4; // ids 0..3 are pad, start, end, unk

beforeAll(async () => {
  await initBackend('cpu');
});

/** Rows with every id likely, specials included (the sampler must never draw pad, start or unk). */
function randomTable(vocabSize: number, seed: number): number[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: vocabSize }, () => Array.from({ length: vocabSize }, () => 0.05 + rand()));
}

/** Every caption of at most maxLength words with the probability that sampling draws it, by hand. */
function samplingDistribution(m: TableModel, maxLength: number): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (prev: number, tokens: number[], p: number): void => {
    const row = m.logTable[prev].map(Math.exp);
    if (tokens.length === maxLength) {
      out.set(tokens.join(' '), p); // only the end token may follow
      return;
    }
    const allowed = [...(tokens.length > 0 ? [END] : []), ...Array.from({ length: row.length - WORDS_FROM }, (_, i) => WORDS_FROM + i)];
    const total = allowed.reduce((a, id) => a + row[id], 0);
    for (const id of allowed) {
      if (id === END) out.set(tokens.join(' '), p * (row[END] / total));
      else walk(id, [...tokens, id], p * (row[id] / total));
    }
  };
  walk(1, [], 1);
  return out;
}

const images = (n: number) => tf.zeros([n, 1]) as tf.Tensor2D;

describe('sampling', () => {
  it('draws captions with the model probabilities renormalised over the allowed words (30000 draws, within 0.008 each)', () => {
    const m = new TableModel(randomTable(7, 3));
    const maxLength = 3;
    const expected = samplingDistribution(m, maxLength);
    const n = 30000;
    const features = images(n);
    const drawn = sampleSearch(m, features, { maxLength, seed: 5 });
    features.dispose();
    const counts = new Map<string, number>();
    for (const h of drawn) {
      expect(h.tokens.every((id) => id >= WORDS_FROM)).toBe(true); // never pad, start, unk or end
      expect(h.tokens.length).toBeGreaterThan(0);
      expect(h.tokens.length).toBeLessThanOrEqual(maxLength);
      const key = h.tokens.join(' ');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(expected.size).toBe(3 + 9 + 27);
    expect([...expected.values()].reduce((a, p) => a + p, 0)).toBeCloseTo(1, 9);
    let worst = 0;
    for (const [key, p] of expected) worst = Math.max(worst, Math.abs((counts.get(key) ?? 0) / n - p));
    expect(worst).toBeLessThan(0.008);
    expect([...counts.keys()].every((k) => expected.has(k))).toBe(true);
    // Each caption's logProb is the model's log-probability of its words and end token.
    for (const h of drawn.slice(0, 50)) {
      let prev = 1;
      let logProb = 0;
      for (const id of [...h.tokens, END]) {
        logProb += f32(m.logTable[prev][id]);
        prev = id;
      }
      expect(h.logProb).toBeCloseTo(logProb, 5);
      expect(h.length).toBe(h.tokens.length + 1);
    }
    m.dispose();
  });

  it('is repeatable from the seed, each image drawing from its own stream whatever the batch; another seed draws otherwise', () => {
    const m = new TableModel(randomTable(9, 4));
    const run = (n: number, seed: number, firstCaption?: number, samplesPerImage?: number) => {
      const features = images(n);
      const r = sampleSearch(m, features, { maxLength: 6, seed, firstCaption, samplesPerImage });
      features.dispose();
      return r.map((h) => h.tokens.join(' '));
    };
    const before = tf.memory().numTensors;
    const all = run(40, 1);
    expect(tf.memory().numTensors).toBe(before); // no tensor leaks
    expect(run(40, 1)).toEqual(all);
    expect(run(10, 1)).toEqual(all.slice(0, 10));
    // A batch drawn in parts, each numbered on from the captions before it: the captions of one call.
    expect([...run(15, 1, 0), ...run(25, 1, 15)]).toEqual(all);
    expect([...run(3, 1, 0, 5), ...run(5, 1, 15, 5)]).toEqual(all);
    expect(run(25, 1, 14)).not.toEqual(all.slice(15));
    expect(() => run(2, 1, -1)).toThrow(/firstCaption/);
    expect(run(40, 2)).not.toEqual(all);
    expect(new Set(all).size).toBeGreaterThan(10); // it does sample
    m.dispose();
  });

  it('a temperature near 0 draws the greedy caption; blocked repeats are never drawn', () => {
    const m = new TableModel(randomTable(8, 6));
    const features = images(20);
    const cold = sampleSearch(m, features, { maxLength: 5, seed: 3, temperature: 1e-4 });
    const [greedy] = greedySearch(m, tf.zeros([1, 1]) as tf.Tensor2D, 5);
    for (const h of cold) expect(h.tokens).toEqual(greedy.tokens);
    const blocked = sampleSearch(m, features, { maxLength: 8, seed: 3, blockNgrams: 1 });
    for (const h of blocked) expect(new Set(h.tokens).size).toBe(h.tokens.length); // no word twice
    expect(() => sampleSearch(m, features, { maxLength: 5, seed: 3, temperature: 0 })).toThrow(/temperature/);
    features.dispose();
    m.dispose();
  });
});
