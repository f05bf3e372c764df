// A hand-built StepDecoder for search tests: the next-word distribution depends only on the previous
// word (a fixed transition table), so exact answers can be computed by brute force in plain JS.
import * as tf from '@tensorflow/tfjs';
import type { Hypothesis } from '../../src/decode/index.js';
import type { StepDecoder } from '../../src/model/step-decoder.js';

const END = 2;
const WORDS_FROM = 4; // ids 0..3 are pad, start, end, unk

export class TableModel implements StepDecoder {
  readonly vocabSize: number;
  readonly logTable: number[][];
  private readonly table: tf.Tensor2D;

  /** probs[prev][next]: rows are normalised here, then stored as log-probabilities. */
  constructor(probs: number[][]) {
    this.vocabSize = probs.length;
    this.logTable = probs.map((row) => {
      const sum = row.reduce((a, b) => a + b, 0);
      return row.map((p) => Math.log(p / sum));
    });
    this.table = tf.tensor2d(this.logTable, undefined, 'float32');
  }

  /** The state carries the features through unchanged, so state gathering is exercised too. */
  initState(features: tf.Tensor2D): tf.Tensor[] {
    return [features.clone()];
  }

  step(tokens: tf.Tensor1D, state: tf.Tensor[]): { logProbs: tf.Tensor2D; state: tf.Tensor[] } {
    return tf.tidy(() => ({ logProbs: tf.gather(this.table, tokens) as tf.Tensor2D, state: [state[0].clone()] }));
  }

  dispose(): void {
    this.table.dispose();
  }
}

/** Float32 value of a log-probability, as the model emits it. */
export function f32(x: number): number {
  return Math.fround(x);
}

/** Every caption of at most maxLength words, ended by the end token, with its total log-probability. */
export function allCaptions(m: TableModel, maxLength: number): Hypothesis[] {
  const out: Hypothesis[] = [];
  const walk = (prev: number, tokens: number[], logProb: number): void => {
    const row = m.logTable[prev];
    const ended = logProb + f32(row[END]);
    // a caption has at least one word: the end token is never the first one
    if (tokens.length > 0) out.push({ tokens, logProb: ended, score: ended, length: tokens.length + 1 });
    if (tokens.length === maxLength) return;
    for (let id = WORDS_FROM; id < row.length; id++) walk(id, [...tokens, id], logProb + f32(row[id]));
  };
  walk(1, [], 0);
  return out;
}
