// Dropout masks drawn on the host, one seeded stream per caption: the caption at position p of a
// batch gets the same masks however the batch is split across gradient replicas (src/train/replicas.ts)
// and whichever engine runs the step, so neither changes the result of training.
import type { DropoutSite } from '../model/decoder.js';
import { mixSeed, mulberry32 } from '../util/random.js';

export interface DropoutSpec {
  /** Fraction of units dropped (0 = no masks). */
  rate: number;
  /** The batch's seed (per epoch and batch index). */
  seed: number;
  /** The decoder's dropout sites (DecoderSpec.dropoutSites). */
  sites: DropoutSite[];
}

/** A shard's dropout: the batch's spec and where the shard starts in the batch (0 for a whole batch). */
export type ShardDropout = DropoutSpec & { firstCaption?: number };

/**
 * Inverted-dropout masks (0 or 1/(1-rate)) by site for the captions at batch positions
 * firstCaption .. firstCaption+B-1: 'caption' sites [B, width], 'token' sites [T*B, width] time-major.
 * Each caption draws its caption sites' masks, then its token sites' for t = 0, 1, ...: a shorter or
 * longer timeSteps changes only the tail (padding), never the masks of real positions.
 */
export function dropoutMasks(
  spec: DropoutSpec,
  opts: { firstCaption: number; batchSize: number; timeSteps: number },
): Record<string, Float32Array> {
  const { batchSize: B, timeSteps: T } = opts;
  const keep = 1 - spec.rate;
  const scale = 1 / keep;
  const perCaption = spec.sites.filter((s) => s.per === 'caption');
  const perToken = spec.sites.filter((s) => s.per === 'token');
  const masks: Record<string, Float32Array> = {};
  for (const s of perCaption) masks[s.name] = new Float32Array(B * s.width);
  for (const s of perToken) masks[s.name] = new Float32Array(T * B * s.width);
  for (let b = 0; b < B; b++) {
    const rand = mulberry32(mixSeed(spec.seed, opts.firstCaption + b));
    for (const s of perCaption) {
      const m = masks[s.name];
      for (let j = 0; j < s.width; j++) m[b * s.width + j] = rand() < keep ? scale : 0;
    }
    for (let t = 0; t < T; t++) {
      for (const s of perToken) {
        const m = masks[s.name];
        const row = (t * B + b) * s.width;
        for (let j = 0; j < s.width; j++) m[row + j] = rand() < keep ? scale : 0;
      }
    }
  }
  return masks;
}
