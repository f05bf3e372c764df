// The demo's offline encoder: a small convolutional network with SEEDED RANDOM weights (no training,
// no download). Chosen only by name (`--encoder seeded-cnn`), never as a fallback for real data.
// Random conv features keep edges and blobs; pooling them over a coarse grid, plus the mean colour
// of finer cells, keeps where things are and what colour they are, which is all the synthetic
// shapes dataset needs. It is useless for photographs.
import * as tf from '@tensorflow/tfjs';
import type { Encoder } from '../encoder.js';
import type { EncoderIdentity } from '../../run/formats.js';
import { CapgenError } from '../../errors.js';
import { gaussian, mulberry32 } from '../../util/random.js';

export interface SeededCnnOptions {
  seed: number;
  /** [height, width]; multiples of 16 (two stride-2 convolutions, then a 4x4 grid). */
  inputSize?: [number, number];
  /** 'avg' (default): one vector per image; 'none': the 4x4 grid of cells, for the attending decoders. */
  pooling?: 'avg' | 'none';
}

// 64x64: the synthetic scenes' shapes stay 10+ px wide, and a forward pass stays cheap.
const DEFAULT_INPUT_SIZE: [number, number] = [64, 64];
// Two 3x3 stride-2 convolutions: edges, then corners and curves, at 1/4 resolution.
const CONV_CHANNELS = [16, 32] as const;
// 4x4 cells of conv features, each cell averaged AND max-pooled: enough to tell left / middle /
// right apart; the max keeps small shapes that an average over a mostly empty cell would wash out
// (a linear probe on 1000 scenes: shape column 0.95 accuracy with both, 0.87 with the average alone).
const FEATURE_GRID = 4;
// 8x8 cells of mean RGB: colours of small shapes survive (they would blur out in 4x4 cells).
const COLOUR_GRID = 8;

/** Length of the feature vector for the default network. */
export function seededCnnFeatureLength(): number {
  return 2 * FEATURE_GRID * FEATURE_GRID * (CONV_CHANNELS[CONV_CHANNELS.length - 1] as number) + COLOUR_GRID * COLOUR_GRID * 3;
}

/** He-normal 3x3 kernels from the seeded generator: [3, 3, inChannels, outChannels]. */
function seededKernel(rng: () => number, inChannels: number, outChannels: number): tf.Tensor4D {
  const values = new Float32Array(3 * 3 * inChannels * outChannels);
  const std = Math.sqrt(2 / (3 * 3 * inChannels)); // He init keeps ReLU activations from dying out
  for (let i = 0; i < values.length; i++) values[i] = gaussian(rng) * std;
  return tf.tensor4d(values, [3, 3, inChannels, outChannels]);
}

export function createSeededCnnEncoder(opts: SeededCnnOptions): Encoder {
  const inputSize = opts.inputSize ?? DEFAULT_INPUT_SIZE;
  const [heightPx, widthPx] = inputSize;
  if (!Number.isInteger(opts.seed) || opts.seed < 0) {
    throw new CapgenError('USAGE', `the seeded-cnn encoder needs a whole-number seed >= 0, got ${opts.seed}`);
  }
  if (heightPx % 16 !== 0 || widthPx % 16 !== 0 || heightPx < 16 || widthPx < 16) {
    throw new CapgenError('USAGE', `seeded-cnn input size must be multiples of 16, got ${heightPx}x${widthPx}`);
  }
  const rng = mulberry32(opts.seed);
  const kernels: tf.Tensor4D[] = [];
  let inChannels = 3;
  for (const outChannels of CONV_CHANNELS) {
    kernels.push(seededKernel(rng, inChannels, outChannels));
    inChannels = outChannels;
  }
  const featureLength = seededCnnFeatureLength();
  const spatial = opts.pooling === 'none';
  // Spatial: the same values per cell of the 4x4 grid: its conv mean and max, and the RGB of the 2x2
  // colour cells inside it -> [4, 4, 2*32 + 4*3].
  const perCell = featureLength / (FEATURE_GRID * FEATURE_GRID);
  const identity: EncoderIdentity = {
    architecture: 'seeded-cnn',
    weightsHash: `seeded:${opts.seed}`,
    layer: `conv${CONV_CHANNELS.join('-')}-grid${FEATURE_GRID}avgmax+rgb${COLOUR_GRID}`,
    preprocess: 'unit',
    resize: 'squash',
    pooling: spatial ? 'none' : 'avg',
    inputSize: [heightPx, widthPx],
    featureShape: spatial ? [FEATURE_GRID, FEATURE_GRID, perCell] : [featureLength],
  };

  return {
    identity,
    /** [N, H, W, 3] RGB 0..255 -> [N, featureLength] (1216 with the defaults), or [N, 4, 4, 76] spatial. */
    embed(pixels: tf.Tensor4D): tf.Tensor {
      return tf.tidy(() => {
        const [batch, h0, w0, c0] = pixels.shape;
        if (h0 !== heightPx || w0 !== widthPx || c0 !== 3) {
          throw new Error(`seeded-cnn expects [N, ${heightPx}, ${widthPx}, 3] pixels, got [${pixels.shape.join(', ')}]`);
        }
        const unit = tf.div(pixels, 255) as tf.Tensor4D; // preprocess 'unit'
        // Centre each image on its own mean colour: random kernels then see signed contrasts
        // between shapes and background, whatever the background's shade.
        let h = tf.sub(unit, tf.mean(unit, [1, 2], true)) as tf.Tensor4D;
        for (const kernel of kernels) h = tf.relu(tf.conv2d(h, kernel, 2, 'same'));
        const [, gh, gw] = h.shape;
        const cell: [number, number] = [gh / FEATURE_GRID, gw / FEATURE_GRID];
        const gridMean = tf.avgPool(h, cell, cell, 'valid');
        const gridMax = tf.maxPool(h, cell, cell, 'valid');
        const colourCell: [number, number] = [heightPx / COLOUR_GRID, widthPx / COLOUR_GRID];
        const colour = tf.avgPool(unit, colourCell, colourCell, 'valid');
        if (spatial) {
          // [N, 8, 8, 3] -> [N, 4, 2, 4, 2, 3] -> [N, 4, 4, 2, 2, 3] -> [N, 4, 4, 12]: sub-cells under their cell.
          const sub = COLOUR_GRID / FEATURE_GRID;
          const colourCells = tf.reshape(
            tf.transpose(tf.reshape(colour, [batch, FEATURE_GRID, sub, FEATURE_GRID, sub, 3]), [0, 1, 3, 2, 4, 5]),
            [batch, FEATURE_GRID, FEATURE_GRID, sub * sub * 3],
          );
          return tf.concat([gridMean, gridMax, colourCells], 3);
        }
        // [N, 4*4*32 mean | 4*4*32 max | 8*8*3 rgb]
        return tf.concat(
          [gridMean, gridMax, colour].map((t) => tf.reshape(t, [batch, -1])),
          1,
        ) as tf.Tensor2D;
      });
    },
    dispose(): void {
      for (const k of kernels) k.dispose();
    },
  };
}

/**
 * The same network as a tfjs layers model (for `capgen export`), on 'unit'-preprocessed pixels
 * [N, H, W, 3] (x/255): each layer is the op embed() runs, so the features are the same, pooled
 * [N, 1216] or spatial [N, 4, 4, 76] as `opts.pooling` says (the run's pooling, as embed()).
 */
export function seededCnnLayersModel(opts: SeededCnnOptions): tf.LayersModel {
  const encoder = createSeededCnnEncoder(opts); // validates the options
  const [heightPx, widthPx] = encoder.identity.inputSize;
  encoder.dispose();
  const rng = mulberry32(opts.seed);
  const input = tf.input({ shape: [heightPx, widthPx, 3] });
  // Centre on the image's mean colour: the mean, negated (a Dense of -identity: exact), tiled back to
  // the image's size and added (tfjs has no Subtract layer; a + (-b) is a - b in floating point).
  const negate = tf.layers.dense({ units: 3, useBias: false });
  const negMean = negate.apply(tf.layers.globalAveragePooling2d({}).apply(input)) as tf.SymbolicTensor;
  const tiled = tf.layers
    .upSampling2d({ size: [heightPx, widthPx] })
    .apply(tf.layers.reshape({ targetShape: [1, 1, 3] }).apply(negMean)) as tf.SymbolicTensor;
  let h = tf.layers.add().apply([input, tiled]) as tf.SymbolicTensor;
  const convs: { layer: tf.layers.Layer; kernel: tf.Tensor4D }[] = [];
  let inChannels = 3;
  for (const outChannels of CONV_CHANNELS) {
    const layer = tf.layers.conv2d({
      filters: outChannels,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      useBias: false,
      activation: 'relu',
    });
    h = layer.apply(h) as tf.SymbolicTensor;
    convs.push({ layer, kernel: seededKernel(rng, inChannels, outChannels) });
    inChannels = outChannels;
  }
  const [, gh, gw] = h.shape as number[];
  const cell: [number, number] = [gh / FEATURE_GRID, gw / FEATURE_GRID];
  const colourCell: [number, number] = [heightPx / COLOUR_GRID, widthPx / COLOUR_GRID];
  const gridMean = tf.layers.averagePooling2d({ poolSize: cell, strides: cell, padding: 'valid' }).apply(h) as tf.SymbolicTensor;
  const gridMax = tf.layers.maxPooling2d({ poolSize: cell, strides: cell, padding: 'valid' }).apply(h) as tf.SymbolicTensor;
  const colour = tf.layers
    .averagePooling2d({ poolSize: colourCell, strides: colourCell, padding: 'valid' })
    .apply(input) as tf.SymbolicTensor;
  const sub = COLOUR_GRID / FEATURE_GRID;
  // Spatial: embed()'s reshape-transpose of the colour cells (sub-cells under their cell) as a
  // convolution of stride `sub` whose one-hot kernel copies each sub-cell's RGB to its own channel:
  // exact (x*1 + 0s), and every layer of it has a tfjs and an ONNX form.
  const gatherSubCells = tf.layers.conv2d({ filters: sub * sub * 3, kernelSize: sub, strides: sub, padding: 'valid', useBias: false });
  const output =
    opts.pooling === 'none'
      ? tf.layers.concatenate({ axis: -1 }).apply([gridMean, gridMax, gatherSubCells.apply(colour) as tf.SymbolicTensor])
      : tf.layers.concatenate().apply([gridMean, gridMax, colour].map((t) => tf.layers.flatten().apply(t) as tf.SymbolicTensor));
  const model = tf.model({ inputs: input, outputs: output as tf.SymbolicTensor });
  if (opts.pooling === 'none') {
    // [sub, sub, 3, sub*sub*3]: kernel[i][j][c][(i*sub + j)*3 + c] = 1, as embed()'s [.., 2, 2, 3] -> 12 order.
    const oneHot = new Float32Array(sub * sub * 3 * sub * sub * 3);
    for (let i = 0; i < sub; i++)
      for (let j = 0; j < sub; j++)
        for (let c = 0; c < 3; c++) oneHot[((i * sub + j) * 3 + c) * (sub * sub * 3) + (i * sub + j) * 3 + c] = 1;
    tf.tidy(() => gatherSubCells.setWeights([tf.tensor4d(oneHot, [sub, sub, 3, sub * sub * 3])]));
  }
  tf.tidy(() => negate.setWeights([tf.neg(tf.eye(3))]));
  for (const { layer, kernel } of convs) {
    layer.setWeights([kernel]);
    kernel.dispose();
  }
  return model;
}
