// Greedy search: at every step each caption takes its most likely allowed next word. One model call
// per step for the whole batch; captions that have ended are dropped from the batch (rows gathered out).
import * as tf from '@tensorflow/tfjs';
import type { StepDecoder } from '../model/step-decoder.js';
import { SPECIAL_IDS } from '../run/formats.js';
import { attentionRow, readAttention } from './attention.js';
import { allowedTokens, readTopTokens } from './candidates.js';
import type { DecodeOptions, Hypothesis } from './types.js';

export type GreedyOptions = Pick<DecodeOptions, 'maxLength' | 'attention'>;

/**
 * Greedy captions for a batch of images. features [B, ...featureShape] -> one hypothesis per image
 * (score = logProb). A caption has at most maxLength words: at step maxLength only the end token
 * may follow. With `attention`, each hypothesis carries its words' attention rows. The caller keeps
 * ownership of `features`.
 */
export function greedySearch(model: StepDecoder, features: tf.Tensor, options: number | GreedyOptions): Hypothesis[] {
  const { maxLength, attention: wantAttention } = typeof options === 'number' ? { maxLength: options, attention: undefined } : options;
  const count = features.shape[0];
  const words: number[][] = Array.from({ length: count }, () => []);
  const maps: number[][][] | undefined = wantAttention ? Array.from({ length: count }, () => []) : undefined;
  const logProbs = new Float64Array(count);
  const results: Hypothesis[] = new Array(count);
  // active[r] = the image whose caption is decoded in row r of the current batch
  let active = Array.from({ length: count }, (_, i) => i);
  let state = model.initState(features as tf.Tensor2D);
  let tokens: tf.Tensor1D = tf.tensor1d(new Int32Array(count).fill(SPECIAL_IDS.start), 'int32');
  try {
    for (let t = 0; t <= maxLength && active.length > 0; t++) {
      const out = tf.tidy(() => model.step(tokens, state, t));
      tf.dispose([tokens, ...state]);
      state = out.state;
      const tops = readTopTokens(out.logProbs, 1, t === maxLength);
      out.logProbs.dispose();
      let attention;
      try {
        attention = readAttention(out.attention, active.length, wantAttention?.grid);
      } finally {
        out.attention?.dispose(); // computed by attending decoders whether or not it is kept
      }
      const keep: number[] = [];
      const nextTokens: number[] = [];
      for (let r = 0; r < active.length; r++) {
        const image = active[r];
        const [{ token, logProb }] = allowedTokens(tops, r, 1, t === 0 && maxLength > 0);
        logProbs[image] += logProb;
        if (token === SPECIAL_IDS.end) {
          results[image] = {
            tokens: words[image],
            logProb: logProbs[image],
            score: logProbs[image],
            length: t + 1,
            ...(maps ? { attention: maps[image] } : {}),
          };
        } else {
          words[image].push(token);
          if (maps && attention) maps[image].push(attentionRow(attention, r));
          keep.push(r);
          nextTokens.push(token);
        }
      }
      tokens = tf.tensor1d(nextTokens, 'int32');
      if (keep.length < active.length) {
        const rows = tf.tensor1d(keep, 'int32');
        const all = state;
        state = all.map((s) => tf.gather(s, rows));
        tf.dispose([rows, ...all]);
      }
      active = keep.map((r) => active[r]);
    }
  } finally {
    tf.dispose([tokens, ...state]);
  }
  return results;
}
