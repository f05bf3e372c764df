// Keras Applications' DenseNet201 (include_top=False), as keras/applications/densenet.py builds it:
// a 7x7 stem, four dense blocks of 6, 12, 48 and 32 layers (BN-ReLU-1x1 conv, BN-ReLU-3x3 conv, the
// 32 new channels concatenated to the input), halving transitions with 2x2 average pooling, and a last
// BN-ReLU. 18,321,984 weights; 1920 channels out.
import { KerasGraphBuilder, type KerasGraph } from '../keras-graph.js';

const BLOCKS = [6, 12, 48, 32];
const GROWTH_RATE = 32;
/** densenet.py's BatchNormalization epsilon. */
const EPSILON = 1.001e-5;

/** @param widthDivisor divides the stem's filters and the growth rate (1 = the real network). */
export function densenet201Graph(inputSize: [number, number], widthDivisor = 1): KerasGraph {
  const g = new KerasGraphBuilder('densenet201', inputSize);
  const growth = Math.max(1, Math.round(GROWTH_RATE / widthDivisor));
  const bnRelu = (x: string, name: string) => g.relu(g.batchNorm(x, { name: `${name}_bn`, epsilon: EPSILON }), `${name}_relu`);
  let x = g.zeroPad('input_1', g.autoName('zero_padding2d'), 3);
  x = g.conv(x, { name: 'conv1_conv', filters: Math.max(1, Math.round(64 / widthDivisor)), kernel: [7, 7], strides: 2, useBias: false });
  x = bnRelu(x, 'conv1');
  x = g.zeroPad(x, g.autoName('zero_padding2d'), 1);
  x = g.pool('max', x, { name: 'pool1', size: 3, strides: 2 });
  BLOCKS.forEach((blocks, stage) => {
    for (let i = 1; i <= blocks; i++) {
      const name = `conv${stage + 2}_block${i}`;
      let y = bnRelu(x, `${name}_0`);
      y = g.conv(y, { name: `${name}_1_conv`, filters: 4 * growth, kernel: [1, 1], useBias: false });
      y = bnRelu(y, `${name}_1`);
      y = g.conv(y, { name: `${name}_2_conv`, filters: growth, kernel: [3, 3], padding: 'same', useBias: false });
      x = g.concat([x, y], `${name}_concat`);
    }
    if (stage < BLOCKS.length - 1) {
      const name = `pool${stage + 2}`;
      x = bnRelu(x, name);
      x = g.conv(x, { name: `${name}_conv`, filters: Math.floor(g.shape(x)[2] * 0.5), kernel: [1, 1], useBias: false });
      x = g.pool('avg', x, { name: `${name}_pool`, size: 2, strides: 2 });
    }
  });
  x = g.relu(g.batchNorm(x, { name: 'bn', epsilon: EPSILON }), 'relu');
  return g.finish(x);
}
