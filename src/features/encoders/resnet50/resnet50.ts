// Keras Applications' ResNet50 (include_top=False) as tfjs core ops, with every BatchNormalization
// folded into the convolution before it at load time (same output, about a third less work).
import * as tf from '@tensorflow/tfjs';
import type { EncoderIdentity } from '../../../run/formats.js';
import type { Encoder } from '../../encoder.js';
import { preprocess } from '../../preprocess.js';
import { BN_EPSILON, allConvs, type ConvSpec, type ResNet50Spec } from './spec.js';
import type { ConvWeights, ResNet50Weights } from './weights.js';

interface FoldedConv {
  spec: ConvSpec;
  kernel: tf.Tensor4D; // [kh, kw, in, out]
  bias: tf.Tensor1D; // [out]
}

/** kernel' = kernel * gamma / sqrt(var + eps); bias' = (bias - mean) * gamma / sqrt(var + eps) + beta. */
export function foldBatchNorm(w: ConvWeights, filters: number): { kernel: Float32Array; bias: Float32Array } {
  const scale = new Float64Array(filters);
  const bias = new Float32Array(filters);
  for (let o = 0; o < filters; o++) {
    scale[o] = w.gamma[o] / Math.sqrt(w.movingVariance[o] + BN_EPSILON);
    bias[o] = (w.bias[o] - w.movingMean[o]) * scale[o] + w.beta[o];
  }
  const kernel = new Float32Array(w.kernel.length);
  for (let i = 0; i < kernel.length; i++) kernel[i] = w.kernel[i] * scale[i % filters];
  return { kernel, bias };
}

/** Size of the last feature map for an input size: 224 -> 7. */
export function mapSize(input: [number, number]): [number, number] {
  const one = (n: number) => {
    let a = Math.floor((n + 6 - 7) / 2) + 1; // conv1: pad 3, 7x7 stride 2
    a = Math.floor((a + 2 - 3) / 2) + 1; // pool1: pad 1, 3x3 stride 2
    for (let i = 0; i < 3; i++) a = Math.floor((a - 1) / 2) + 1; // conv3..conv5: 1x1 stride 2
    return a;
  };
  return [one(input[0]), one(input[1])];
}

export interface ResNet50Options {
  spec: ResNet50Spec;
  weights: ResNet50Weights;
  pooling: EncoderIdentity['pooling'];
  /** Everything else of the identity (weights hash, resize, input size). */
  identity: Omit<EncoderIdentity, 'architecture' | 'layer' | 'preprocess' | 'pooling' | 'featureShape'>;
}

/** The identity createResNet50 records (shared with the ONNX engine, whose features are the same). */
export function resnet50Identity(opts: Omit<ResNet50Options, 'weights'>): EncoderIdentity {
  const [h, w] = opts.identity.inputSize;
  const featureShape = opts.pooling === 'avg' ? [opts.spec.outChannels] : [...mapSize([h, w]), opts.spec.outChannels];
  return {
    architecture: 'resnet50',
    layer: 'conv5_block3_out',
    preprocess: 'caffe',
    pooling: opts.pooling,
    featureShape,
    ...opts.identity,
  };
}

export function createResNet50(opts: ResNet50Options): Encoder {
  const folded = new Map<string, FoldedConv>();
  for (const spec of allConvs(opts.spec)) {
    const { kernel, bias } = foldBatchNorm(opts.weights.get(spec.conv) as ConvWeights, spec.filters);
    folded.set(spec.conv, {
      spec,
      kernel: tf.tensor4d(kernel, [spec.kernelSize, spec.kernelSize, spec.inChannels, spec.filters]),
      bias: tf.tensor1d(bias),
    });
  }
  const conv = (x: tf.Tensor4D, name: string, relu: boolean): tf.Tensor4D => {
    const c = folded.get(name) as FoldedConv;
    return tf.fused.conv2d({
      x,
      filter: c.kernel,
      bias: c.bias,
      strides: c.spec.stride,
      pad: c.spec.padding,
      activation: relu ? 'relu' : 'linear',
    });
  };
  const identity = resnet50Identity(opts);

  return {
    identity,
    /** [N, H, W, 3] RGB 0..255 -> [N, 2048] (avg) or [N, H/32, W/32, 2048] (none). */
    embed(pixels: tf.Tensor4D): tf.Tensor {
      return tf.tidy(() => {
        let x = preprocess(pixels, 'caffe');
        x = tf.pad(x, [
          [0, 0],
          [3, 3],
          [3, 3],
          [0, 0],
        ]); // conv1_pad
        x = conv(x, opts.spec.stem.conv, true);
        // pool1_pad pads with zeros; after a ReLU that equals padding with -inf, so max pooling agrees.
        x = tf.maxPool(
          tf.pad(x, [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ]),
          3,
          2,
          'valid',
        );
        for (const b of opts.spec.blocks) {
          const shortcut = b.shortcut ? conv(x, b.shortcut.conv, false) : x;
          let y = conv(x, b.convs[0].conv, true);
          y = conv(y, b.convs[1].conv, true);
          y = conv(y, b.convs[2].conv, false);
          x = tf.relu(tf.add(shortcut, y)) as tf.Tensor4D;
        }
        return opts.pooling === 'avg' ? tf.mean(x, [1, 2]) : x;
      });
    },
    dispose(): void {
      for (const c of folded.values()) {
        c.kernel.dispose();
        c.bias.dispose();
      }
    },
  };
}
