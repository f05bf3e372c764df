// Small fixed decoder sizes shared by tests: every weight is a few values, so reference computations
// stay readable and graphs build in milliseconds.
import type { AttentionLstmSizes } from '../../src/model/attention-lstm.js';

/** Attention LSTM over a 2x2 grid of 5 channels, with dropout and the doubly-stochastic penalty on. */
export const TINY_ATTENTION: AttentionLstmSizes = {
  vocabSize: 9,
  featureSize: 2 * 2 * 5,
  dropout: 0.3,
  mapHeight: 2,
  mapWidth: 2,
  channels: 5,
  projectionSize: 3,
  embeddingSize: 3,
  hiddenSize: 4,
  attentionSize: 3,
  attentionPenalty: 0.7,
};
