// Beam search over a batch of images: every step scores all beams of all images in ONE model call
// ([images x beams] rows), keeps the beamSize best continuations per image, and drops images whose
// beams have all ended. Finished beams stay in their slot with a fixed score, so they compete with
// the beams still growing under the same length-normalised ranking.
import * as tf from '@tensorflow/tfjs';
import type { StepDecoder } from '../model/step-decoder.js';
import { SPECIAL_IDS } from '../run/formats.js';
import { endOnlyMask, wordMask } from './mask.js';
import { normalisedScore, type DecodedCaption, type Hypothesis } from './types.js';

export interface BeamSearchOptions {
  maxLength: number;
  beamSize: number;
  lengthPenalty: number;
}

interface Slot extends Omit<Hypothesis, 'score'> {
  finished: boolean;
}

/**
 * Beam search for a batch of images. features [B, ...featureShape] -> per image, the best
 * hypothesis and all beams ranked by score = logProb / length^lengthPenalty (length counts the end
 * token). Ranking uses that score at every step, so with lengthPenalty 0 it maximises the total
 * log-probability. The caller keeps ownership of `features`.
 */
export function beamSearch(model: StepDecoder, features: tf.Tensor, opts: BeamSearchOptions): DecodedCaption[] {
  const { maxLength, beamSize, lengthPenalty } = opts;
  const vocabSize = model.vocabSize;
  const results: DecodedCaption[] = new Array(features.shape[0]);
  // images[i] is the image of group i; group i owns rows i*slotsPerImage .. +slotsPerImage-1
  let images = Array.from({ length: features.shape[0] }, (_, i) => i);
  let slots: Slot[] = images.map(() => ({ tokens: [], logProb: 0, length: 0, finished: false }));
  let slotsPerImage = 1; // one (empty) beam per image before the first word
  const masks = { words: wordMask(vocabSize), endOnly: endOnlyMask(vocabSize) };
  const stayEnded = tf.tidy(() => endOnlyMask(vocabSize).reshape([1, vocabSize])); // a finished beam's only continuation, at cost 0
  let state = model.initState(features as tf.Tensor2D);
  let tokens: tf.Tensor1D = tf.tensor1d(new Int32Array(images.length).fill(SPECIAL_IDS.start), 'int32');
  try {
    for (let t = 0; t <= maxLength && images.length > 0; t++) {
      const rows = slots.length;
      const logProbCol = new Float32Array(slots.map((s) => s.logProb));
      const finishedCol = new Int32Array(slots.map((s) => (s.finished ? 1 : 0)));
      const divisorCol = new Float32Array(slots.map((s) => Math.pow(Math.max(s.finished ? s.length : t + 1, 1), lengthPenalty)));
      const mask = t === maxLength ? masks.endOnly : masks.words;
      const keep = Math.min(beamSize, slotsPerImage * vocabSize); // beams kept per image this step
      const [picked, pickedLogProb, ...next] = tf.tidy(() => {
        const out = model.step(tokens, state);
        const finished = tf.tensor2d(finishedCol, [rows, 1], 'int32').cast('bool');
        const stepLogProb = tf.where(finished, stayEnded, tf.add(out.logProbs, mask)); // [rows, V]
        const total = tf.add(stepLogProb, tf.tensor2d(logProbCol, [rows, 1])); // [rows, V]
        const ranked = lengthPenalty === 0 ? total : tf.div(total, tf.tensor2d(divisorCol, [rows, 1]));
        const perImage = ranked.reshape([images.length, slotsPerImage * vocabSize]);
        const { indices } = tf.topk(perImage, keep); // [images, keep], into each image's slots x V
        const offsets = tf.range(0, images.length * slotsPerImage * vocabSize, slotsPerImage * vocabSize, 'int32');
        const flat = tf.add(indices, offsets.reshape([images.length, 1])).reshape([-1]);
        return [indices, tf.gather(stepLogProb.reshape([-1]), flat), ...out.state];
      });
      tf.dispose([tokens, ...state]);
      const pickedIds = picked.dataSync();
      const pickedValues = pickedLogProb.dataSync();
      tf.dispose([picked, pickedLogProb]);

      const keptImages: number[] = [];
      const sourceRows: number[] = [];
      const nextTokens: number[] = [];
      const nextSlots: Slot[] = [];
      for (let g = 0; g < images.length; g++) {
        const group: Slot[] = [];
        const groupRows: number[] = [];
        for (let k = 0; k < keep; k++) {
          const index = pickedIds[g * keep + k];
          const row = g * slotsPerImage + Math.floor(index / vocabSize);
          const token = index % vocabSize;
          const from = slots[row];
          const logProb = from.logProb + pickedValues[g * keep + k];
          if (from.finished || logProb === -Infinity) {
            group.push({ ...from, logProb, finished: true });
          } else if (token === SPECIAL_IDS.end) {
            group.push({ tokens: from.tokens, logProb, length: t + 1, finished: true });
          } else {
            group.push({ tokens: [...from.tokens, token], logProb, length: t + 1, finished: false });
          }
          groupRows.push(row);
        }
        if (group.every((s) => s.finished)) {
          results[images[g]] = finalise(group, lengthPenalty);
        } else {
          keptImages.push(images[g]);
          sourceRows.push(...groupRows);
          nextTokens.push(...group.map((s) => (s.finished ? SPECIAL_IDS.end : s.tokens[s.tokens.length - 1])));
          nextSlots.push(...group);
        }
      }
      const gatherRows = tf.tensor1d(sourceRows, 'int32');
      state = next.map((s) => tf.gather(s, gatherRows));
      tf.dispose([gatherRows, ...next]);
      tokens = tf.tensor1d(nextTokens, 'int32');
      images = keptImages;
      slots = nextSlots;
      slotsPerImage = keep;
    }
  } finally {
    tf.dispose([tokens, ...state, masks.words, masks.endOnly, stayEnded]);
  }
  return results;
}

/** Beams best first (dead beams, which only arise when the vocabulary has fewer words than beams, dropped). */
function finalise(group: Slot[], lengthPenalty: number): DecodedCaption {
  const beams: Hypothesis[] = group
    .filter((s) => s.logProb > -Infinity)
    .map((s) => ({ tokens: s.tokens, logProb: s.logProb, length: s.length, score: normalisedScore(s.logProb, s.length, lengthPenalty) }))
    .sort((a, b) => b.score - a.score);
  return { ...beams[0], beams };
}
