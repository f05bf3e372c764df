// Keras Applications' ResNet50 (src/features/encoders/resnet50/resnet50.ts) as an ONNX graph, for ONNX Runtime:
// the same BatchNorm-folded convolutions, caffe preprocessing and pooling, computed in NCHW.
import type { EncoderIdentity } from '../../run/formats.js';
import { foldBatchNorm } from '../encoders/resnet50/resnet50.js';
import type { ConvSpec, ResNet50Spec } from '../encoders/resnet50/spec.js';
import type { ConvWeights, ResNet50Weights } from '../encoders/resnet50/weights.js';
import { GraphBuilder, INPUT_NAME, NCHW_TO_NHWC, NHWC_TO_NCHW, convKernelToOnnx, kerasPadding, preprocessNodes } from './graph-builder.js';
import type { OnnxModel } from '../../engine/onnx/proto.js';

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
  /** Conv + folded BN (+ ReLU) on an NCHW value `x` of spatial `size`; `extraPad` is a ZeroPadding2D before it. */
  const conv = (
    spec: ConvSpec,
    { x, size, relu, extraPad = 0 }: { x: string; size: [number, number]; relu: boolean; extraPad?: number },
  ): { y: string; size: [number, number] } => {
    const { kernel, bias } = foldBatchNorm(opts.weights.get(spec.conv) as ConvWeights, spec.filters);
    const k = spec.kernelSize;
    const window = { kernel: k, stride: spec.stride, padding: spec.padding };
    const ph = kerasPadding(size[0] + 2 * extraPad, window);
    const pw = kerasPadding(size[1] + 2 * extraPad, window);
    const weight = b.constant(
      `${spec.conv}/kernel`,
      [spec.filters, spec.inChannels, k, k],
      convKernelToOnnx(kernel, { kh: k, kw: k, cin: spec.inChannels, cout: spec.filters }),
    );
    const y = b.op(
      'Conv',
      [x, weight, b.constant(`${spec.conv}/bias`, [spec.filters], bias)],
      {
        kernel_shape: [k, k],
        strides: [spec.stride, spec.stride],
        pads: [ph.pads[0] + extraPad, pw.pads[0] + extraPad, ph.pads[1] + extraPad, pw.pads[1] + extraPad],
      },
      spec.conv,
    );
    return { y: relu ? b.op('Relu', [y]) : y, size: [ph.out, pw.out] };
  };

  let x = b.op('Transpose', [preprocessNodes(b, INPUT_NAME, 'caffe')], { perm: NHWC_TO_NCHW });
  // conv1_pad (3 pixels of zeros) becomes the convolution's own padding: the same zeros.
  ({
    y: x,
    size: [h, w],
  } = conv(opts.spec.stem, { x, size: [h, w], relu: true, extraPad: 3 }));
  // pool1_pad pads zeros, MaxPool pads -inf; after a ReLU every window has a value >= 0, so they agree.
  x = b.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, 'pool1_pool');
  const pool = { kernel: 3, stride: 2, padding: 'valid' } as const;
  [h, w] = [kerasPadding(h + 2, pool).out, kerasPadding(w + 2, pool).out];
  for (const block of opts.spec.blocks) {
    const shortcut = block.shortcut ? conv(block.shortcut, { x, size: [h, w], relu: false }).y : x;
    let y = conv(block.convs[0], { x, size: [h, w], relu: true });
    y = conv(block.convs[1], { x: y.y, size: y.size, relu: true });
    y = conv(block.convs[2], { x: y.y, size: y.size, relu: false });
    x = b.op('Relu', [b.op('Add', [shortcut, y.y], undefined, `${block.name}_add`)], undefined, `${block.name}_out`);
    [h, w] = y.size;
  }
  const channels = opts.spec.outChannels;
  const result =
    opts.pooling === 'avg'
      ? b.op('Flatten', [b.op('GlobalAveragePool', [x])], { axis: 1 })
      : b.op('Transpose', [x], { perm: NCHW_TO_NHWC });
  return b.finish({
    graphName: 'resnet50',
    inputSize: opts.inputSize,
    result,
    outputShape: opts.pooling === 'avg' ? [channels] : [h, w, channels],
  });
}
