// Caption decoding for many images: splits feature vectors into batches, runs greedy (beam size 1)
// or beam search on each, and reports progress between batches. Used by eval, caption and serve.
// Sampling (sample.ts) draws captions from the model instead, for self-critical training.
import * as tf from '@tensorflow/tfjs';
import type { StepDecoder } from '../model/step-decoder.js';
import { beamSearch } from './beam-search.js';
import { greedySearch } from './greedy.js';
import { DEFAULT_DECODE_BATCH_SIZE, normalisedScore, type DecodeOptions, type DecodedCaption } from './types.js';

export { attentionRegions } from './attention.js';
export { beamSearch } from './beam-search.js';
export { greedySearch } from './greedy.js';
export { sampleSearch, type SampleOptions } from './sample.js';
export * from './types.js';

export interface DecodeBatchOptions extends DecodeOptions {
  /** Images per batch (beam search runs batchSize x beamSize rows per model call). */
  batchSize?: number;
  /** Shape of one feature (default: the length of the vector, i.e. [D]). */
  featureShape?: number[];
  /** Called after every batch with the number of images decoded so far. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Feature vectors to decode: an array, or a list that reads each vector when its batch comes (eval
 * reads them from the feature cache: only one batch of them is in memory at a time).
 */
export type FeatureList = readonly Float32Array[] | { readonly length: number; get(index: number): Float32Array };

/**
 * Decodes one tensor of features [B, ...featureShape] (greedy when beamSize is 1, else beam search).
 * Synchronous; the caller keeps ownership of `features`.
 */
export function decodeBatch(model: StepDecoder, features: tf.Tensor, opts: DecodeOptions): DecodedCaption[] {
  if (!Number.isInteger(opts.beamSize) || opts.beamSize < 1)
    throw new RangeError(`beamSize must be a whole number >= 1, got ${opts.beamSize}`);
  if (opts.beamSize === 1) {
    const grid = opts.attention?.grid;
    return greedySearch(model, features, opts).map((h) => {
      const best = { ...h, score: normalisedScore(h.logProb, h.length, opts.lengthPenalty) };
      return { ...best, beams: [best], ...(grid ? { attentionGrid: grid } : {}) };
    });
  }
  return beamSearch(model, features, opts);
}

/** Decodes many feature vectors, batch by batch, yielding to the event loop between batches. */
export async function decodeFeatures(model: StepDecoder, features: FeatureList, opts: DecodeBatchOptions): Promise<DecodedCaption[]> {
  const batchSize = opts.batchSize ?? DEFAULT_DECODE_BATCH_SIZE;
  const at = 'get' in features ? (i: number) => features.get(i) : (i: number) => (features as readonly Float32Array[])[i];
  const results: DecodedCaption[] = [];
  for (let start = 0; start < features.length; start += batchSize) {
    const rows = Array.from({ length: Math.min(batchSize, features.length - start) }, (_, i) => at(start + i));
    const featureShape = opts.featureShape ?? [rows[0].length];
    const size = featureShape.reduce((a, b) => a * b, 1);
    const flat = new Float32Array(rows.length * size);
    rows.forEach((row, i) => {
      if (row.length !== size) throw new RangeError(`feature ${start + i} has ${row.length} values, expected ${size}`);
      flat.set(row, i * size);
    });
    const batch = tf.tensor(flat, [rows.length, ...featureShape], 'float32');
    try {
      results.push(...decodeBatch(model, batch, opts));
    } finally {
      batch.dispose();
    }
    opts.onProgress?.(results.length, features.length);
    await new Promise((resolve) => setImmediate(resolve)); // lets the progress bar redraw
  }
  return results;
}
