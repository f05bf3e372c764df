// Keras Applications' InceptionV3 (include_top=False), as keras/applications/inception_v3.py builds
// it: every convolution is conv2d_bn (Conv2D without bias, BatchNormalization without scale, ReLU),
// with Keras' automatic names conv2d_N / batch_normalization_N numbered in creation order (the names
// of the published weights file), and the eleven mixed blocks. 21,802,784 weights; 2048 channels out.
import { KerasGraphBuilder, type KerasGraph } from '../keras-graph.js';

/** Keras' BatchNormalization default epsilon (conv2d_bn does not set one). */
const EPSILON = 1e-3;

/** @param widthDivisor divides every filter count (1 = the real network). */
export function inceptionv3Graph(inputSize: [number, number], widthDivisor = 1): KerasGraph {
  const g = new KerasGraphBuilder('inception_v3', inputSize);
  const f = (n: number) => Math.max(1, Math.round(n / widthDivisor));
  const convBn = (x: string, filters: number, [kh, kw]: [number, number], opts: { strides?: number; padding?: 'same' | 'valid' } = {}) => {
    const conv = g.conv(x, {
      name: g.autoName('conv2d'),
      filters: f(filters),
      kernel: [kh, kw],
      strides: opts.strides,
      padding: opts.padding ?? 'same',
      useBias: false,
    });
    return g.relu(g.batchNorm(conv, { name: g.autoName('batch_normalization'), epsilon: EPSILON, scale: false }), g.autoName('activation'));
  };
  const avgPool = (x: string) => g.pool('avg', x, { name: g.autoName('average_pooling2d'), size: 3, strides: 1, padding: 'same' });
  const maxPool = (x: string) => g.pool('max', x, { name: g.autoName('max_pooling2d'), size: 3, strides: 2 });

  let x = convBn('input_1', 32, [3, 3], { strides: 2, padding: 'valid' });
  x = convBn(x, 32, [3, 3], { padding: 'valid' });
  x = convBn(x, 64, [3, 3]);
  x = maxPool(x);
  x = convBn(x, 80, [1, 1], { padding: 'valid' });
  x = convBn(x, 192, [3, 3], { padding: 'valid' });
  x = maxPool(x);

  // mixed0..2: 35x35
  for (const [i, poolFilters] of [32, 64, 64].entries()) {
    const b1 = convBn(x, 64, [1, 1]);
    const b5 = convBn(convBn(x, 48, [1, 1]), 64, [5, 5]);
    const b3 = convBn(convBn(convBn(x, 64, [1, 1]), 96, [3, 3]), 96, [3, 3]);
    const bp = convBn(avgPool(x), poolFilters, [1, 1]);
    x = g.concat([b1, b5, b3, bp], `mixed${i}`);
  }
  // mixed3: 17x17
  {
    const b3 = convBn(x, 384, [3, 3], { strides: 2, padding: 'valid' });
    const bd = convBn(convBn(convBn(x, 64, [1, 1]), 96, [3, 3]), 96, [3, 3], { strides: 2, padding: 'valid' });
    x = g.concat([b3, bd, maxPool(x)], 'mixed3');
  }
  // mixed4..7: 17x17, 7x1 / 1x7 factorised convolutions of width 128, 160, 160, 192
  for (const [i, w] of [128, 160, 160, 192].entries()) {
    const b1 = convBn(x, 192, [1, 1]);
    const b7 = convBn(convBn(convBn(x, w, [1, 1]), w, [1, 7]), 192, [7, 1]);
    let bd = convBn(x, w, [1, 1]);
    bd = convBn(convBn(convBn(convBn(bd, w, [7, 1]), w, [1, 7]), w, [7, 1]), 192, [1, 7]);
    const bp = convBn(avgPool(x), 192, [1, 1]);
    x = g.concat([b1, b7, bd, bp], `mixed${4 + i}`);
  }
  // mixed8: 8x8
  {
    const b3 = convBn(convBn(x, 192, [1, 1]), 320, [3, 3], { strides: 2, padding: 'valid' });
    let b7 = convBn(convBn(convBn(x, 192, [1, 1]), 192, [1, 7]), 192, [7, 1]);
    b7 = convBn(b7, 192, [3, 3], { strides: 2, padding: 'valid' });
    x = g.concat([b3, b7, maxPool(x)], 'mixed8');
  }
  // mixed9, mixed10: 8x8
  for (let i = 0; i < 2; i++) {
    const b1 = convBn(x, 320, [1, 1]);
    const b3 = convBn(x, 384, [1, 1]);
    const b3cat = g.concat([convBn(b3, 384, [1, 3]), convBn(b3, 384, [3, 1])], `mixed9_${i}`);
    const bd = convBn(convBn(x, 448, [1, 1]), 384, [3, 3]);
    const bdcat = g.concat([convBn(bd, 384, [1, 3]), convBn(bd, 384, [3, 1])], g.autoName('concatenate'));
    const bp = convBn(avgPool(x), 192, [1, 1]);
    x = g.concat([b1, b3cat, bdcat, bp], `mixed${9 + i}`);
  }
  return g.finish(x);
}
