// Beam search over a batch of images: every step scores all beams of all images in ONE model call
// ([images x beams] rows), keeps the beamSize best continuations per image, and drops images whose
// beams have all ended. Finished beams keep their slot and score, so they compete with the beams
// still growing under the same length-normalised ranking. Any decoder whose state tensors all have
// the batch first (LSTM h/c, transformer key/value caches [B, heads, t, dh]) is reordered by one
// gather per tensor. With DecodeOptions.attention each beam carries its words' attention rows.
import type * as tf from '@tensorflow/tfjs';
import type { StepDecoder } from '../model/step-decoder.js';
import { SPECIAL_IDS } from '../run/formats.js';
import { attentionRow } from './attention.js';
import { allowedTokens } from './candidates.js';
import { repeatedNgramTokens } from './repeats.js';
import { startSearch } from './search-steps.js';
import { normalisedScore, type DecodeOptions, type DecodedCaption, type Hypothesis } from './types.js';

export type BeamSearchOptions = Pick<DecodeOptions, 'maxLength' | 'beamSize' | 'lengthPenalty' | 'attention' | 'blockNgrams'>;

interface Beam extends Hypothesis {
  finished: boolean;
  /** Row of the current batch this beam continues (its state). */
  row: number;
}

/** An image being decoded: its beams occupy consecutive rows of the batch. */
interface Group {
  image: number;
  beams: Beam[];
}

/**
 * Beam search for a batch of images. features [B, ...featureShape] -> per image, the best
 * hypothesis and the final beams, best first, ranked by score = logProb / length^lengthPenalty
 * (length counts the end token). Candidates are ranked by that score at every step, so with
 * lengthPenalty 0 the search looks for the caption of highest total log-probability (and finds it
 * whenever the beam is wide enough to keep every candidate). The caller keeps `features`.
 */
export function beamSearch(model: StepDecoder, features: tf.Tensor, opts: BeamSearchOptions): DecodedCaption[] {
  const { maxLength, beamSize, lengthPenalty, blockNgrams = 0 } = opts;
  const grid = opts.attention?.grid;
  const results: DecodedCaption[] = new Array(features.shape[0]);
  // one empty beam per image before the first word
  let groups: Group[] = Array.from({ length: features.shape[0] }, (_, image) => ({
    image,
    beams: [{ tokens: [], logProb: 0, score: 0, length: 0, finished: false, row: image, ...(grid ? { attention: [] } : {}) }],
  }));
  let tokens = new Int32Array(groups.length).fill(SPECIAL_IDS.start);
  const search = startSearch(model, features);
  try {
    for (let t = 0; t <= maxLength && groups.length > 0; t++) {
      // Per row (a growing beam) the words that would repeat one of its n-grams; finished beams have no row.
      const blocked = new Map<number, Set<number>>();
      for (const group of groups)
        for (const beam of group.beams) if (!beam.finished) blocked.set(beam.row, repeatedNgramTokens(beam.tokens, blockNgrams));
      const extra = Math.max(0, ...[...blocked.values()].map((b) => b.size)); // candidates read past the blocked ones
      const { tops, attention } = search.step(tokens, t, { count: beamSize + extra, endOnly: t === maxLength, attentionGrid: grid });
      const kept: Group[] = [];
      const sourceRows: number[] = [];
      const nextTokens: number[] = [];
      for (const group of groups) {
        const candidates: Beam[] = [];
        for (const beam of group.beams) {
          if (beam.finished) {
            candidates.push(beam);
            continue;
          }
          // this step's attention of the beam's row: it chose whichever word the candidate adds
          const row = attention && attentionRow(attention, beam.row);
          for (const { token, logProb } of allowedTokens(tops, beam.row, beamSize, {
            firstWord: t === 0 && maxLength > 0,
            blocked: blocked.get(beam.row),
          })) {
            const total = beam.logProb + logProb;
            const ended = token === SPECIAL_IDS.end;
            candidates.push({
              tokens: ended ? beam.tokens : [...beam.tokens, token],
              logProb: total,
              score: normalisedScore(total, t + 1, lengthPenalty),
              length: t + 1,
              finished: ended,
              row: beam.row,
              ...(beam.attention ? { attention: ended || !row ? beam.attention : [...beam.attention, row] } : {}),
            });
          }
        }
        // stable sort: on equal scores the earlier beam (and within a beam the likelier token) wins
        const best = candidates.sort((a, b) => b.score - a.score).slice(0, beamSize);
        if (best.every((b) => b.finished)) {
          results[group.image] = finalise(best, grid);
          continue;
        }
        const beams = best.map((b) => {
          sourceRows.push(b.row);
          nextTokens.push(b.finished ? SPECIAL_IDS.end : b.tokens[b.tokens.length - 1]);
          return { ...b, row: sourceRows.length - 1 };
        });
        kept.push({ image: group.image, beams });
      }
      search.select(Int32Array.from(sourceRows));
      tokens = Int32Array.from(nextTokens);
      groups = kept;
    }
  } finally {
    search.dispose();
  }
  return results;
}

function finalise(beams: Beam[], grid: [number, number] | undefined): DecodedCaption {
  const ranked: Hypothesis[] = beams.map(({ tokens, logProb, score, length, attention }) => ({
    tokens,
    logProb,
    score,
    length,
    ...(attention ? { attention } : {}),
  }));
  return { ...ranked[0], beams: ranked, ...(grid ? { attentionGrid: grid } : {}) };
}
