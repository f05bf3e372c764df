// Helpers shared by the ONNX encoder graphs: named nodes and initializers, Keras' padding rules,
// Keras -> ONNX kernel layouts, and the pixel preprocessing of src/features/preprocess.ts as graph ops.
import type { EncoderIdentity } from '../../run/formats.js';
import type { OnnxAttribute, OnnxInitializer, OnnxModel, OnnxNode, OnnxValueInfo } from '../../engine/onnx/proto.js';

/** ONNX opset the graphs use: Clip/Pad take their bounds as inputs, ReduceMean axes still an attribute. */
export const OPSET = 13;
/** Names of the graph's input ([batch, H, W, 3] RGB 0..255) and output (the features). */
export const INPUT_NAME = 'pixels';
export const OUTPUT_NAME = 'features';
const BATCH = 'batch';

export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];
  private counter = 0;

  constant(hint: string, dims: number[], data: Float32Array | BigInt64Array): string {
    const name = `${hint}:${this.counter++}`;
    this.initializers.push({ name, dims, data });
    return name;
  }

  floats(hint: string, values: number[], dims = [values.length]): string {
    return this.constant(hint, dims, Float32Array.from(values));
  }

  int64s(hint: string, values: number[]): string {
    return this.constant(hint, [values.length], BigInt64Array.from(values.map(BigInt)));
  }

  /** Adds one node; returns its (single) output name. */
  op(op: string, inputs: string[], attributes?: Record<string, OnnxAttribute>, hint = op): string {
    const out = `${hint}:${this.counter++}`;
    this.nodes.push({ op, inputs, outputs: [out], name: out, attributes });
    return out;
  }

  /** The model: input [batch, H, W, 3], output `outputShape` (without the batch dimension) named OUTPUT_NAME. */
  finish(opts: { graphName: string; inputSize: [number, number]; result: string; outputShape: number[] }): OnnxModel {
    this.nodes.push({ op: 'Identity', inputs: [opts.result], outputs: [OUTPUT_NAME], name: OUTPUT_NAME });
    const inputs: OnnxValueInfo[] = [{ name: INPUT_NAME, shape: [BATCH, opts.inputSize[0], opts.inputSize[1], 3] }];
    const outputs: OnnxValueInfo[] = [{ name: OUTPUT_NAME, shape: [BATCH, ...opts.outputShape] }];
    return { opset: OPSET, graphName: opts.graphName, nodes: this.nodes, initializers: this.initializers, inputs, outputs };
  }
}

/** Keras/TF padding of one spatial axis: output size and [before, after] ('same' puts the odd pixel after). */
export interface Window {
  kernel: number;
  stride: number;
  padding: 'same' | 'valid';
  dilation?: number;
}

export function kerasPadding(size: number, { kernel, stride, padding, dilation = 1 }: Window): { out: number; pads: [number, number] } {
  const span = (kernel - 1) * dilation + 1;
  if (padding === 'valid') return { out: Math.floor((size - span) / stride) + 1, pads: [0, 0] };
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + span - size, 0);
  return { out, pads: [Math.floor(total / 2), total - Math.floor(total / 2)] };
}

/** Keras conv kernel [kh, kw, in, out] -> ONNX [out, in, kh, kw]. */
export function convKernelToOnnx(
  kernel: Float32Array,
  { kh, kw, cin, cout }: { kh: number; kw: number; cin: number; cout: number },
): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = kernel[((y * kw + x) * cin + i) * cout + o];
  return out;
}

/**
 * Keras depthwise kernel [kh, kw, in, mult] -> ONNX grouped [in*mult, 1, kh, kw] (channel c*mult+m, as
 * TF orders them): in memory it is a conv kernel [kh, kw, 1, in*mult], so the conv reordering does it.
 */
export function depthwiseKernelToOnnx(
  kernel: Float32Array,
  { kh, kw, cin, mult }: { kh: number; kw: number; cin: number; mult: number },
): Float32Array {
  return convKernelToOnnx(kernel, { kh, kw, cin: 1, cout: cin * mult });
}

/** ImageNet constants as in src/features/preprocess.ts. */
const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68];
const TORCH_MEAN = [0.485, 0.456, 0.406];
const TORCH_STD = [0.229, 0.224, 0.225];

/** The same arithmetic as preprocess() (src/features/preprocess.ts), on the NHWC input, in the same order. */
export function preprocessNodes(b: GraphBuilder, x: string, mode: EncoderIdentity['preprocess']): string {
  switch (mode) {
    case 'caffe': {
      const bgr = b.op('Gather', [x, b.int64s('bgr', [2, 1, 0])], { axis: 3 }, 'rgb_to_bgr');
      return b.op('Sub', [bgr, b.floats('caffe_mean', CAFFE_MEAN_BGR)]);
    }
    case 'tf':
      return b.op('Sub', [b.op('Div', [x, b.floats('c127_5', [127.5], [])]), b.floats('one', [1], [])]);
    case 'torch': {
      const unit = b.op('Div', [x, b.floats('c255', [255], [])]);
      return b.op('Div', [b.op('Sub', [unit, b.floats('torch_mean', TORCH_MEAN)]), b.floats('torch_std', TORCH_STD)]);
    }
    case 'unit':
      return b.op('Div', [x, b.floats('c255', [255], [])]);
  }
}

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];
