// A tiny attending decoder for the tests of attention maps (search, caption PNGs, eval report,
// serve): its attention depends on the image and on every previous word, and its state holds a
// transformer-like cache that grows by one position per step ([B, 1, t+1, C]), so beam search must
// reorder rank-4 state tensors as it will a real transformer's key/value caches.
//
// features [B, R*C] or [B, R, C] -> regions f [B, R, C]
// step: e = embedding[token]; cache += e; q = e + mean(cache); attention = softmax(f . q) [B, R];
//       context = sum_r attention_r f_r; logProbs = logSoftmax((context + e) W + b)
import { metaNumber, type BaseSizes, type DecoderSpec, type Weights } from '../../src/model/decoder.js';
import { uniform } from '../../src/model/init.js';
import { mulberry32 as seededRandom } from '../../src/util/random.js';
import { dense } from '../../src/model/ops.js';
import { TfjsDecoder } from '../../src/engine/tfjs-decoder.js';

export const ATTENDING_ARCHITECTURE = 'test-attending';

export interface AttendingSizes extends BaseSizes {
  /** Grid of regions: featureSize = height * width * channels. */
  height: number;
  width: number;
  channels: number;
}

export const attendingSpec: DecoderSpec<AttendingSizes> = {
  architecture: ATTENDING_ARCHITECTURE,
  description: 'a toy attending decoder (tests only)',
  features: 'spatial',
  sizesFor: (data) => {
    const [height, width, channels] = data.featureShape;
    return { vocabSize: data.vocabSize, featureSize: height * width * channels, dropout: 0, height, width, channels };
  },
  sizesFrom: (m) => ({
    vocabSize: metaNumber(m, 'vocabSize'),
    featureSize: metaNumber(m, 'featureSize'),
    dropout: metaNumber(m, 'dropout'),
    height: metaNumber(m, 'height'),
    width: metaNumber(m, 'width'),
    channels: metaNumber(m, 'channels'),
  }),
  weightShapes: (s) => [
    ['embedding', [s.vocabSize, s.channels]],
    ['output.kernel', [s.channels, s.vocabSize]],
    ['output.bias', [s.vocabSize]],
  ],
  initialWeights: (s, seed) => {
    const rand = seededRandom(seed);
    return {
      embedding: uniform(s.vocabSize * s.channels, 1, rand),
      'output.kernel': uniform(s.channels * s.vocabSize, 1, rand),
      'output.bias': new Float32Array(s.vocabSize),
    };
  },
  dropoutSites: () => [],
  featureShape: (s) => [s.height * s.width, s.channels],
  teacherForced() {
    throw new Error('the test-attending decoder is for search tests only: it is never trained');
  },
  /** State: [regions [B, R, C], cache [B, 1, t+1, C]] (the cache starts with the mean region). */
  initState(ops, w, features, s) {
    const regions = ops.reshape(features, [-1, s.height * s.width, s.channels]);
    return [regions, ops.reshape(ops.mean(regions, [1]), [-1, 1, 1, s.channels])];
  },
  step(ops, w, { tokens, state }, s) {
    const [regions, cache] = state;
    const e = ops.gather(w.embedding, tokens); // [B, C]
    const grown = ops.concat([cache, ops.reshape(e, [-1, 1, 1, s.channels])], 2); // [B, 1, t+2, C]
    const query = ops.add(e, ops.reshape(ops.mean(grown, [2]), [-1, s.channels])); // [B, C]
    const scores = ops.sum(ops.mul(regions, ops.reshape(query, [-1, 1, s.channels])), [2]); // [B, R]
    const attention = ops.softmax(scores);
    const context = ops.sum(ops.mul(regions, ops.reshape(attention, [-1, s.height * s.width, 1])), [1]); // [B, C]
    const logProbs = ops.logSoftmax(dense(ops, ops.add(context, e), w['output.kernel'], w['output.bias']));
    return { logProbs, state: [regions, grown], attention };
  },
};

/** The toy decoder with seeded weights; `endBias` makes captions end sooner (larger) or later. */
export function attendingModel(sizes: AttendingSizes, opts: { seed: number; endBias?: number }): TfjsDecoder<AttendingSizes> {
  return new TfjsDecoder(attendingSpec, sizes, attendingWeights(sizes, opts));
}

export function attendingWeights(sizes: AttendingSizes, opts: { seed: number; endBias?: number }): Weights {
  const w = attendingSpec.initialWeights(sizes, opts.seed);
  w['output.kernel'] = w['output.kernel'].map((x) => x * 3); // peaked distributions: captions differ per image
  w['output.bias'][2] = opts.endBias ?? 0;
  return w;
}
