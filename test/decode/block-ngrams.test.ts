// Repeated n-gram blocking (--block-ngrams): the blocked words by hand, greedy and beam search against
// brute force over every caption without a repeated n-gram, and the browser module's copy.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { beamSearch, greedySearch, normalisedScore } from '../../src/decode/index.js';
import { repeatedNgramTokens } from '../../src/decode/repeats.js';
import { hasRepeatedNgram } from '../../src/evaluate/diagnostics.js';
import { repeatedNgramTokens as webCopy } from '../../src/export/web/caption-model.js';
import { mulberry32 } from '../../src/util/random.js';
import { allCaptions, TableModel } from './table-model.js';

const END = 2;
const WORDS_FROM = 4; // ids 0..3 are pad, start, end, unk

beforeAll(async () => {
  await initBackend('wasm');
});

/** Does `tokens` hold some n words in a row twice? (eval's definition, for its repeat diagnostics) */
const repeatsNgram = (tokens: number[], n: number) => hasRepeatedNgram(tokens.map(String), n);

describe('repeated n-gram blocking', () => {
  it('blocks exactly the words that would complete an n-gram already in the caption', () => {
    expect([...repeatedNgramTokens([5, 6, 7, 5], 2)]).toEqual([6]); // "a dog runs a" -> not "dog"
    expect([...repeatedNgramTokens([5, 6, 5, 7, 5], 2)].sort()).toEqual([6, 7]);
    expect([...repeatedNgramTokens([5, 6, 7, 5, 6], 3)]).toEqual([7]);
    expect([...repeatedNgramTokens([5, 6, 7, 5], 3)]).toEqual([]);
    expect([...repeatedNgramTokens([5, 6], 1)].sort()).toEqual([5, 6]);
    expect([...repeatedNgramTokens([5, 5, 5], 0)]).toEqual([]);
    expect([...repeatedNgramTokens([5], 2)]).toEqual([]);
    // the definition: appending a blocked word makes a repeat, appending any other does not
    const rand = mulberry32(3);
    for (let trial = 0; trial < 300; trial++) {
      const words = Array.from({ length: 1 + Math.floor(rand() * 9) }, () => 4 + Math.floor(rand() * 4));
      const n = 1 + Math.floor(rand() * 3);
      if (repeatsNgram(words, n)) continue; // search never extends a caption that already repeats
      const blocked = repeatedNgramTokens(words, n);
      for (let w = 4; w < 8; w++) expect(blocked.has(w), `${words} + ${w}, n ${n}`).toBe(repeatsNgram([...words, w], n));
      // the browser module's copy agrees
      expect([...webCopy(words, n)].sort()).toEqual([...blocked].sort());
    }
  });

  it('greedy and a wide beam find the best caption without a repeated n-gram (brute force), for n = 1, 2, 3', () => {
    for (const seed of [21, 22, 23]) {
      const rand = mulberry32(seed);
      // a table that likes going round in circles: the next word is mostly the previous one's successor
      const probs = Array.from({ length: 7 }, (_, prev) =>
        Array.from(
          { length: 7 },
          (_, next) => 0.02 + rand() * 0.1 + (next === WORDS_FROM + ((prev + 1) % 3) ? 1 : 0) + (next === END ? 0.05 : 0),
        ),
      );
      const m = new TableModel(probs);
      const features = tf.tensor2d([[0.5]]);
      for (const n of [1, 2, 3]) {
        for (const alpha of [0, 0.5]) {
          const allowed = allCaptions(m, 5)
            .filter((c) => !repeatsNgram(c.tokens, n))
            .map((c) => ({ ...c, score: normalisedScore(c.logProb, c.length, alpha) }))
            .sort((a, b) => b.score - a.score);
          const [beam] = beamSearch(m, features, { maxLength: 5, beamSize: 400, lengthPenalty: alpha, blockNgrams: n });
          expect(beam.tokens, `seed ${seed}, n ${n}, alpha ${alpha}`).toEqual(allowed[0].tokens);
          expect(beam.score).toBeCloseTo(allowed[0].score, 5);
          for (const b of beam.beams) expect(repeatsNgram(b.tokens, n)).toBe(false);
        }
        const [greedy] = greedySearch(m, features, { maxLength: 5, blockNgrams: n });
        expect(repeatsNgram(greedy.tokens, n)).toBe(false);
        // greedy by hand: the likeliest word that repeats nothing
        const tokens: number[] = [];
        let prev = 1;
        for (let t = 0; t <= 5; t++) {
          const blocked = repeatedNgramTokens(tokens, n);
          const row = m.logTable[prev];
          let best = END;
          if (t < 5)
            for (let id = WORDS_FROM; id < row.length; id++)
              if (!blocked.has(id) && (t === 0 ? best === END || row[id] > row[best] : row[id] > row[best])) best = id;
          if (best === END) break;
          tokens.push(best);
          prev = best;
        }
        expect(greedy.tokens, `greedy, seed ${seed}, n ${n}`).toEqual(tokens);
      }
      // without blocking this table does repeat itself: the tests above could fail
      const [plain] = greedySearch(m, features, { maxLength: 5 });
      expect(repeatsNgram(plain.tokens, 2)).toBe(true);
      tf.dispose(features);
      m.dispose();
    }
  });

  it('reads enough candidates when the likeliest words are all blocked (n = 1 blocks every word used)', () => {
    // every row prefers words 4, 5, 6, ... in that order, and the end token least
    const row = [1e-6, 1e-6, 1e-9, 1e-6, ...Array.from({ length: 8 }, (_, i) => 1 / (i + 1))];
    const m = new TableModel(Array.from({ length: row.length }, () => row));
    const features = tf.tensor2d([[0.5]]);
    const expected = [4, 5, 6, 7, 8, 9, 10]; // 7 words, each the likeliest not yet used
    expect(greedySearch(m, features, { maxLength: 7, blockNgrams: 1 })[0].tokens).toEqual(expected);
    expect(beamSearch(m, features, { maxLength: 7, beamSize: 2, lengthPenalty: 0, blockNgrams: 1 })[0].tokens).toEqual(expected);
    tf.dispose(features);
    m.dispose();
  });
});
