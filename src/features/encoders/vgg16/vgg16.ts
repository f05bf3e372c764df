// Keras Applications' VGG16 (include_top=False), as keras/applications/vgg16.py builds it: five blocks
// of 3x3 'same' convolutions with bias and ReLU, each ended by a 2x2 max pool. 14,714,688 weights.
import { KerasGraphBuilder, type KerasGraph } from '../keras-graph.js';

/** (filters, convolutions) of block1..block5. */
const BLOCKS: [number, number][] = [
  [64, 2],
  [128, 2],
  [256, 3],
  [512, 3],
  [512, 3],
];

/** @param widthDivisor divides every filter count (1 = the real network; tests use narrow copies). */
export function vgg16Graph(inputSize: [number, number], widthDivisor = 1): KerasGraph {
  const g = new KerasGraphBuilder('vgg16', inputSize);
  let x = 'input_1';
  BLOCKS.forEach(([filters, convs], b) => {
    for (let i = 1; i <= convs; i++) {
      x = g.conv(x, {
        name: `block${b + 1}_conv${i}`,
        filters: Math.max(1, Math.round(filters / widthDivisor)),
        kernel: [3, 3],
        padding: 'same',
        activation: 'relu',
      });
    }
    x = g.pool('max', x, { name: `block${b + 1}_pool`, size: 2, strides: 2 });
  });
  return g.finish(x);
}
