// Keras Applications' ResNet50 (src/features/resnet50.ts) as an ONNX graph, for ONNX Runtime:
// the same BatchNorm-folded convolutions, caffe preprocessing and pooling, computed in NCHW.
import type { EncoderIdentity } from '../../run/formats.js';
import { foldBatchNorm } from '../resnet50.js';
import type { ConvSpec, ResNet50Spec } from '../resnet50-spec.js';
import type { ConvWeights, ResNet50Weights } from '../resnet50-weights.js';
import { GraphBuilder, INPUT_NAME, NCHW_TO_NHWC, NHWC_TO_NCHW, convKernelToOnnx, kerasPadding, preprocessNodes } from './graph-builder.js';
import type { OnnxModel } from './proto.js';

export interface ResNet50GraphOptions {
  spec: ResNet50Spec;
  weights: ResNet50Weights;
  pooling: EncoderIdentity['pooling'];
  inputSize: [number, number];
}

/** [batch, H, W, 3] RGB 0..255 -> [batch, 2048] (avg) or [batch, H/32, W/32, 2048] (none), as createResNet50's embed. */
export function resnet50Graph(opts: ResNet50GraphOptions): OnnxModel {
  const b = new GraphBuilder();
  let [h, w] = opts.inputSize;
  /** Conv + folded BN (+ ReLU) on an NCHW value of spatial size [h, w]; `extraPad` is a ZeroPadding2D before it. */
  const conv = (x: string, spec: ConvSpec, relu: boolean, size: [number, number], extraPad = 0): { y: string; size: [number, number] } => {
    const { kernel, bias } = foldBatchNorm(opts.weights.get(spec.conv) as ConvWeights, spec.filters);
    const k = spec.kernelSize;
    const ph = kerasPadding(size[0] + 2 * extraPad, k, spec.stride, spec.padding);
    const pw = kerasPadding(size[1] + 2 * extraPad, k, spec.stride, spec.padding);
    const weight = b.constant(`${spec.conv}/kernel`, [spec.filters, spec.inChannels, k, k], convKernelToOnnx(kernel, k, k, spec.inChannels, spec.filters));
    const y = b.op(
      'Conv',
      [x, weight, b.constant(`${spec.conv}/bias`, [spec.filters], bias)],
      { kernel_shape: [k, k], strides: [spec.stride, spec.stride], pads: [ph.pads[0] + extraPad, pw.pads[0] + extraPad, ph.pads[1] + extraPad, pw.pads[1] + extraPad] },
      spec.conv,
    );
    return { y: relu ? b.op('Relu', [y]) : y, size: [ph.out, pw.out] };
  };

  let x = b.op('Transpose', [preprocessNodes(b, INPUT_NAME, 'caffe')], { perm: NHWC_TO_NCHW });
  // conv1_pad (3 pixels of zeros) becomes the convolution's own padding: the same zeros.
  ({ y: x, size: [h, w] } = conv(x, opts.spec.stem, true, [h, w], 3));
  // pool1_pad pads zeros, MaxPool pads -inf; after a ReLU every window has a value >= 0, so they agree.
  x = b.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, 'pool1_pool');
  [h, w] = [kerasPadding(h + 2, 3, 2, 'valid').out, kerasPadding(w + 2, 3, 2, 'valid').out];
  for (const block of opts.spec.blocks) {
    const shortcut = block.shortcut ? conv(x, block.shortcut, false, [h, w]).y : x;
    let y = conv(x, block.convs[0], true, [h, w]);
    y = conv(y.y, block.convs[1], true, y.size);
    y = conv(y.y, block.convs[2], false, y.size);
    x = b.op('Relu', [b.op('Add', [shortcut, y.y], undefined, `${block.name}_add`)], undefined, `${block.name}_out`);
    [h, w] = y.size;
  }
  const channels = opts.spec.outChannels;
  const result = opts.pooling === 'avg' ? b.op('Flatten', [b.op('GlobalAveragePool', [x])], { axis: 1 }) : b.op('Transpose', [x], { perm: NCHW_TO_NHWC });
  return b.finish({ graphName: 'resnet50', inputSize: opts.inputSize, result, outputShape: opts.pooling === 'avg' ? [channels] : [h, w, channels] });
}
