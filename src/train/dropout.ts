// Dropout masks drawn on the host, one seeded stream per caption: the caption at position p of a
// batch gets the same masks however the batch is split across gradient replicas (src/train/replicas.ts),
// so the number of replicas changes the speed of training, never its result.
import { mixSeed, mulberry32 } from '../util/random.js';

export interface DropoutSpec {
  /** Fraction of units dropped (0 = no masks). */
  rate: number;
  /** The batch's seed (per epoch and batch index). */
  seed: number;
  embeddingSize: number;
}

/** A shard's dropout: the batch's spec and where the shard starts in the batch (0 for a whole batch). */
export type ShardDropout = DropoutSpec & { firstCaption?: number };

export interface DropoutMasks {
  /** [B, featureSize]: 0 or 1/(1-rate). */
  features: Float32Array;
  /** [T*B, embeddingSize], time-major like the batch's inputs. */
  embeddings: Float32Array;
}

/**
 * Inverted-dropout masks for the captions at batch positions firstCaption .. firstCaption+B-1.
 * Each caption draws its feature mask, then its embedding masks for t = 0, 1, ...: a shorter or
 * longer timeSteps changes only the tail (padding), never the masks of real positions.
 */
export function dropoutMasks(spec: DropoutSpec, opts: { firstCaption: number; batchSize: number; timeSteps: number; featureSize: number }): DropoutMasks {
  const { batchSize: B, timeSteps: T, featureSize: D } = opts;
  const E = spec.embeddingSize;
  const keep = 1 - spec.rate;
  const scale = 1 / keep;
  const features = new Float32Array(B * D);
  const embeddings = new Float32Array(T * B * E);
  for (let b = 0; b < B; b++) {
    const rand = mulberry32(mixSeed(spec.seed, opts.firstCaption + b));
    for (let j = 0; j < D; j++) features[b * D + j] = rand() < keep ? scale : 0;
    for (let t = 0; t < T; t++) {
      const row = (t * B + b) * E;
      for (let j = 0; j < E; j++) embeddings[row + j] = rand() < keep ? scale : 0;
    }
  }
  return { features, embeddings };
}
