// The next-token candidates of each row, without touching the whole [rows, V] log-prob matrix
// more than once: one top-k per row on the backend, then the specials (pad, start, unk) are
// dropped in JS. Masking by adding a [V] row of -Infinity costs several full passes on WASM.
import * as tf from '@tensorflow/tfjs';
import { SPECIAL_IDS } from '../run/formats.js';

const NEVER_EMITTED = new Set<number>([SPECIAL_IDS.pad, SPECIAL_IDS.start, SPECIAL_IDS.unk]);

/** Top tokens of every row, read back from the backend. */
export interface RowTops {
  /** Entries per row. */
  width: number;
  /** [rows * width]: token ids, best first within a row. */
  ids: Int32Array;
  /** [rows * width]: their log-probabilities. */
  logProbs: Float32Array;
}

/**
 * logProbs [rows, V] -> per row, enough top entries to hold `count` allowed tokens (count + the
 * 3 never-emitted specials). With `endOnly` (the caption has maxLength words) only the end token.
 * Disposes nothing: call inside tf.tidy or dispose `logProbs` yourself.
 */
export function readTopTokens(logProbs: tf.Tensor2D, count: number, endOnly: boolean): RowTops {
  const [rows, vocabSize] = logProbs.shape;
  if (endOnly) {
    const end = tf.slice(logProbs, [0, SPECIAL_IDS.end], [rows, 1]);
    const values = end.dataSync() as Float32Array;
    end.dispose();
    return { width: 1, ids: new Int32Array(rows).fill(SPECIAL_IDS.end), logProbs: new Float32Array(values) };
  }
  const width = candidateWidth(count, vocabSize);
  const { values, indices } = tf.topk(logProbs, width);
  const out = { width, ids: new Int32Array(indices.dataSync()), logProbs: new Float32Array(values.dataSync()) };
  tf.dispose([values, indices]);
  return out;
}

/** Entries per row that always hold `count` allowed tokens: + the never-emitted specials, + the end token (refused as a first word). */
export function candidateWidth(count: number, vocabSize: number): number {
  return Math.min(count + NEVER_EMITTED.size + 1, vocabSize);
}

/** A next word and its log-probability. */
export interface Candidate {
  token: number;
  logProb: number;
}

/** Never chosen as a next word by search or sampling (pad, start, unk), in id order. */
const REFUSED: readonly number[] = [...NEVER_EMITTED].sort((a, b) => a - b);
const REFUSED_FIRST: readonly number[] = [...REFUSED, SPECIAL_IDS.end].sort((a, b) => a - b);

/**
 * The words search and sampling never choose: pad, start and unk; as a caption's first word the end
 * token too. Self-critical training's loss renormalises over the rest (src/train/objective.ts), the
 * distribution its captions were drawn from.
 */
export function refusedWords(firstWord: boolean): readonly number[] {
  return firstWord ? REFUSED_FIRST : REFUSED;
}

/**
 * What a loss graph adds to a refused word's logit to leave it out of the softmax: a finite stand-in
 * for -Infinity (exp() of it is 0, and 0 x it stays 0 in one-hot products, where -Infinity gives NaN).
 */
export const REFUSED_LOGIT = -1e9;

/** What a row may take next (src/decode/repeats.ts gives `blocked`). */
export interface WordRules {
  /** The caption's first word: the end token is refused (see allowedTokens). */
  firstWord?: boolean;
  blocked?: ReadonlySet<number>;
}

/** Whether `token` may be the next word under `rules` (refusedWords, then the blocked repeats). */
export function wordAllowed(token: number, rules: WordRules): boolean {
  return !refusedWords(rules.firstWord ?? false).includes(token) && !rules.blocked?.has(token);
}

/**
 * The first `count` allowed (token, logProb) pairs of one row, best first. With `firstWord` the end
 * token is refused too: a caption has at least one word (an empty caption describes nothing, and
 * beam search with total log-probability would otherwise prefer it on weak models). `blocked`: words
 * this row may not take (src/decode/repeats.ts); the rows were read with that many more candidates.
 */
export function allowedTokens(tops: RowTops, row: number, count: number, opts: WordRules = {}): Candidate[] {
  const out: Candidate[] = [];
  for (let j = row * tops.width; j < (row + 1) * tops.width && out.length < count; j++) {
    const token = tops.ids[j];
    if (tops.logProbs[j] === -Infinity || !wordAllowed(token, opts)) continue;
    out.push({ token, logProb: tops.logProbs[j] });
  }
  return out;
}
