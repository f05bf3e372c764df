// One Keras layer of a tfjs layers model as ONNX nodes; layers-graph.ts walks the model and calls
// convertLayer for each layer the cut model needs. Convolutions stay drafts until something reads
// them, so that a BatchNormalization right after one folds into its kernel and bias.
import type { EncoderIdentity } from '../../run/formats.js';
import {
  INPUT_NAME,
  NCHW_TO_NHWC,
  NHWC_TO_NCHW,
  convKernelToOnnx,
  depthwiseKernelToOnnx,
  kerasPadding,
  preprocessNodes,
  type GraphBuilder,
} from './graph-builder.js';
import { fail, pair, type LayerJson } from './layers-json.js';
import type { OnnxAttribute } from '../../engine/onnx/proto.js';

/** A tensor of the Keras graph: its ONNX name, layout, and shape in Keras (NHWC) order without the batch. */
export interface Value {
  name: string;
  layout: 'nchw' | 'keras';
  shape: number[];
  /** A convolution not emitted yet, so that a BatchNormalization after it can be folded into it. */
  draft?: {
    input: string;
    kernel: Float32Array;
    kernelDims: number[];
    bias: Float32Array;
    attrs: Record<string, OnnxAttribute>;
    hint: string;
  };
  /** Other layers read this value too: folding a BatchNormalization into it would change them. */
  shared?: boolean;
}

/** The helpers every layer conversion uses, over one graph and one model's weights. */
export interface LayerContext {
  b: GraphBuilder;
  preprocess: EncoderIdentity['preprocess'];
  weight(layer: string, param: string, required?: boolean): Float32Array | undefined;
  /** Emits a draft convolution (if it is one) and returns the value's ONNX name. */
  realize(v: Value): string;
  toNchw(v: Value): string;
  toKeras(v: Value): string;
  activation(x: string, act: unknown, layout?: Value['layout']): string;
}

export function layerContext(
  b: GraphBuilder,
  weights: Map<string, { values: Float32Array }>,
  preprocess: EncoderIdentity['preprocess'],
): LayerContext {
  const weight = (layer: string, param: string, required = true): Float32Array | undefined => {
    const w = weights.get(`${layer}/${param}`);
    return w ? w.values : required ? fail(`weight ${layer}/${param} not found in the manifest`) : undefined;
  };
  const realize = (v: Value): string => {
    if (v.draft) {
      const d = v.draft;
      v.name = b.op(
        'Conv',
        [d.input, b.constant(`${d.hint}/kernel`, d.kernelDims, d.kernel), b.constant(`${d.hint}/bias`, [d.bias.length], d.bias)],
        d.attrs,
        d.hint,
      );
      v.draft = undefined;
    }
    return v.name;
  };
  const toNchw = (v: Value): string =>
    v.layout === 'nchw'
      ? realize(v)
      : v.shape.length === 3
        ? b.op('Transpose', [realize(v)], { perm: NHWC_TO_NCHW })
        : fail(`a rank-${v.shape.length + 1} input to a 2-D layer`);
  const toKeras = (v: Value): string => (v.layout === 'keras' ? realize(v) : b.op('Transpose', [realize(v)], { perm: NCHW_TO_NHWC }));
  const activation = (x: string, act: unknown, layout: Value['layout'] = 'keras'): string => {
    switch (act ?? 'linear') {
      case 'softmax': // over Keras' last axis: the channels
        return b.op('Softmax', [x], { axis: layout === 'nchw' ? 1 : -1 });
      case 'linear':
        return x;
      case 'relu':
        return b.op('Relu', [x]);
      case 'relu6':
        return b.op('Clip', [x, b.floats('zero', [0], []), b.floats('six', [6], [])]);
      case 'sigmoid':
        return b.op('Sigmoid', [x]);
      case 'tanh':
        return b.op('Tanh', [x]);
      default:
        return fail(`activation '${String(act)}'`);
    }
  };
  return { b, preprocess, weight, realize, toNchw, toKeras, activation };
}

/** The layer's output value; an InputLayer also gives the model's input size. */
export function convertLayer(ctx: LayerContext, layer: LayerJson, ins: Value[]): { out: Value; inputSize?: [number, number] } {
  const { b, weight, realize, toNchw, toKeras, activation } = ctx;
  const name = (layer.config.name ?? layer.name) as string;
  const c = layer.config;
  const x = ins[0];
  let out: Value;
  let inputSize: [number, number] | undefined;
  if (c.data_format !== undefined && c.data_format !== 'channels_last') fail(`layer ${name}: data_format ${String(c.data_format)}`);
  switch (layer.class_name) {
    case 'InputLayer': {
      const shape = (c.batch_input_shape ?? c.batchInputShape) as (number | null)[] | undefined;
      if (!shape || shape.length !== 4 || shape[3] !== 3 || !shape[1] || !shape[2])
        fail(`input shape [${shape}], expected [batch, height, width, 3]`);
      inputSize = [shape?.[1] as number, shape?.[2] as number];
      const nchw = b.op('Transpose', [preprocessNodes(b, INPUT_NAME, ctx.preprocess)], { perm: NHWC_TO_NCHW });
      out = { name: nchw, layout: 'nchw', shape: [...inputSize, 3] };
      break;
    }
    case 'Conv2D':
    case 'DepthwiseConv2D': {
      const depthwise = layer.class_name === 'DepthwiseConv2D';
      if (c.groups !== undefined && c.groups !== 1) fail(`layer ${name}: grouped convolution`);
      const [kh, kw] = pair(c.kernel_size, 'kernel size');
      const [sh, sw] = pair(c.strides ?? 1, 'strides');
      const [dh, dw] = pair(c.dilation_rate ?? 1, 'dilation');
      const padding = c.padding === 'same' || c.padding === 'valid' ? c.padding : fail(`layer ${name}: padding ${String(c.padding)}`);
      const [h, w, cin] = x.shape;
      const ph = kerasPadding(h, { kernel: kh, stride: sh, padding, dilation: dh });
      const pw = kerasPadding(w, { kernel: kw, stride: sw, padding, dilation: dw });
      const mult = depthwise ? Number(c.depth_multiplier ?? 1) : 1;
      const cout = depthwise ? cin * mult : Number(c.filters);
      const raw = weight(name, depthwise ? 'depthwise_kernel' : 'kernel') as Float32Array;
      if (raw.length !== kh * kw * cin * (depthwise ? mult : cout)) fail(`layer ${name}: kernel size does not match its input`);
      const kernel = depthwise ? depthwiseKernelToOnnx(raw, { kh, kw, cin, mult }) : convKernelToOnnx(raw, { kh, kw, cin, cout });
      const bias = c.use_bias === false ? new Float32Array(cout) : Float32Array.from(weight(name, 'bias') as Float32Array);
      const attrs: Record<string, OnnxAttribute> = {
        kernel_shape: [kh, kw],
        strides: [sh, sw],
        dilations: [dh, dw],
        pads: [ph.pads[0], pw.pads[0], ph.pads[1], pw.pads[1]],
      };
      if (depthwise) attrs.group = cin;
      const draft = { input: toNchw(x), kernel, kernelDims: [cout, depthwise ? 1 : cin, kh, kw], bias, attrs, hint: name };
      out = { name, layout: 'nchw', shape: [ph.out, pw.out, cout], draft };
      if ((c.activation ?? 'linear') !== 'linear') out = { ...out, draft: undefined, name: activation(realize(out), c.activation, 'nchw') };
      break;
    }
    case 'BatchNormalization': {
      const axis = Number(Array.isArray(c.axis) ? (c.axis.length === 1 ? c.axis[0] : NaN) : (c.axis ?? -1));
      if (axis !== -1 && axis !== x.shape.length) fail(`layer ${name}: BatchNormalization over axis ${String(c.axis)}`);
      const channels = x.shape[x.shape.length - 1];
      const gamma = c.scale === false ? undefined : weight(name, 'gamma');
      const beta = c.center === false ? undefined : weight(name, 'beta');
      const mean = weight(name, 'moving_mean') as Float32Array;
      const variance = weight(name, 'moving_variance') as Float32Array;
      const eps = Number(c.epsilon ?? 1e-3);
      const scale = new Float64Array(channels);
      const shift = new Float64Array(channels);
      for (let o = 0; o < channels; o++) {
        scale[o] = (gamma?.[o] ?? 1) / Math.sqrt(variance[o] + eps);
        shift[o] = (beta?.[o] ?? 0) - mean[o] * scale[o];
      }
      if (x.draft && !x.shared) {
        const d = x.draft;
        const kernel = Float32Array.from(d.kernel);
        const per = kernel.length / channels; // ONNX kernels are [out, ...]: one contiguous run per output channel
        for (let i = 0; i < kernel.length; i++) kernel[i] *= scale[Math.floor(i / per)];
        const bias = Float32Array.from(d.bias, (v, o) => v * scale[o] + shift[o]);
        out = { ...x, draft: { ...d, kernel, bias, hint: `${d.hint}+${name}` } };
      } else {
        const input = realize(x);
        if (x.layout === 'nchw' && x.shape.length === 3) {
          // One pass over the map (Mul then Add is two; DenseNet has 200 of these): an ONNX
          // BatchNormalization with mean 0, variance 1 and epsilon 0 computes x * scale + shift.
          const ones = new Array<number>(channels).fill(1);
          const inputs = [
            input,
            b.floats(`${name}/scale`, [...scale]),
            b.floats(`${name}/shift`, [...shift]),
            b.floats(`${name}/mean`, new Array<number>(channels).fill(0)),
            b.floats(`${name}/var`, ones),
          ];
          out = { ...x, draft: undefined, name: b.op('BatchNormalization', inputs, { epsilon: { float: 0 } }, name) };
        } else {
          out = {
            ...x,
            draft: undefined,
            name: b.op(
              'Add',
              [b.op('Mul', [input, b.floats(`${name}/scale`, [...scale])]), b.floats(`${name}/shift`, [...shift])],
              undefined,
              name,
            ),
          };
        }
      }
      break;
    }
    case 'Activation':
      out = { ...x, draft: undefined, name: activation(realize(x), c.activation, x.layout) };
      break;
    case 'ReLU': {
      if (Number(c.negative_slope ?? 0) !== 0 || Number(c.threshold ?? 0) !== 0)
        fail(`layer ${name}: ReLU with a negative slope or threshold`);
      const max = c.max_value;
      const input = realize(x);
      out = {
        ...x,
        draft: undefined,
        name: max == null ? b.op('Relu', [input]) : b.op('Clip', [input, b.floats('zero', [0], []), b.floats('max', [Number(max)], [])]),
      };
      break;
    }
    case 'ZeroPadding2D': {
      const p = c.padding;
      const [[t, bt], [l, r]] =
        typeof p === 'number'
          ? [
              [p, p],
              [p, p],
            ]
          : Array.isArray(p) && Array.isArray(p[0])
            ? [pair(p[0], 'padding'), pair(p[1], 'padding')]
            : ((q) => [
                [q[0], q[0]],
                [q[1], q[1]],
              ])(pair(p, 'padding'));
      const pads = b.int64s('pads', [0, 0, t, l, 0, 0, bt, r]);
      out = {
        name: b.op('Pad', [toNchw(x), pads], { mode: 'constant' }, name),
        layout: 'nchw',
        shape: [x.shape[0] + t + bt, x.shape[1] + l + r, x.shape[2]],
      };
      break;
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      const [kh, kw] = pair(c.pool_size ?? 2, 'pool size');
      const [sh, sw] = pair(c.strides ?? [kh, kw], 'strides');
      const padding = c.padding === 'same' || c.padding === 'valid' ? c.padding : fail(`layer ${name}: padding ${String(c.padding)}`);
      const ph = kerasPadding(x.shape[0], { kernel: kh, stride: sh, padding });
      const pw = kerasPadding(x.shape[1], { kernel: kw, stride: sw, padding });
      const attrs: Record<string, OnnxAttribute> = {
        kernel_shape: [kh, kw],
        strides: [sh, sw],
        pads: [ph.pads[0], pw.pads[0], ph.pads[1], pw.pads[1]],
      };
      // TF's 'same' pooling ignores the padded cells: ONNX MaxPool pads with -inf, and AveragePool
      // divides by the cells inside the image when count_include_pad is 0.
      if (layer.class_name === 'AveragePooling2D') attrs.count_include_pad = 0;
      const pooled = b.op(layer.class_name === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [toNchw(x)], attrs, name);
      out = { name: pooled, layout: 'nchw', shape: [ph.out, pw.out, x.shape[2]] };
      break;
    }
    case 'Concatenate': {
      const axis = Number(c.axis ?? -1);
      const rank = x.shape.length;
      if (axis !== -1 && axis !== rank) fail(`layer ${name}: Concatenate over axis ${String(c.axis)} (only the channels)`);
      if (ins.some((v) => v.shape.length !== rank || v.shape.slice(0, -1).join() !== x.shape.slice(0, -1).join()))
        fail(`layer ${name}: inputs of different sizes`);
      const layout = rank === 3 ? 'nchw' : 'keras'; // the channels are axis 1 in NCHW, the last axis otherwise
      const names = ins.map((v) => (layout === 'nchw' ? toNchw(v) : toKeras(v)));
      const channels = ins.reduce((sum, v) => sum + v.shape[rank - 1], 0);
      out = { name: b.op('Concat', names, { axis: layout === 'nchw' ? 1 : -1 }, name), layout, shape: [...x.shape.slice(0, -1), channels] };
      break;
    }
    case 'GlobalAveragePooling2D': {
      const pooled = b.op('GlobalAveragePool', [toNchw(x)], undefined, name);
      const channels = x.shape[2];
      out =
        c.keepdims === true
          ? { name: pooled, layout: 'nchw', shape: [1, 1, channels] }
          : { name: b.op('Flatten', [pooled], { axis: 1 }), layout: 'keras', shape: [channels] };
      break;
    }
    case 'Reshape': {
      const target = (c.target_shape as number[]) ?? fail(`layer ${name}: no target_shape`);
      const size = x.shape.reduce((a, v) => a * v, 1);
      const known = target.filter((v) => v !== -1).reduce((a, v) => a * v, 1);
      const shape = target.map((v) => (v === -1 ? size / known : v));
      out = { name: b.op('Reshape', [toKeras(x), b.int64s('shape', [0, ...target])], undefined, name), layout: 'keras', shape };
      break;
    }
    case 'Flatten': {
      const size = x.shape.reduce((a, v) => a * v, 1);
      out = { name: b.op('Flatten', [toKeras(x)], { axis: 1 }, name), layout: 'keras', shape: [size] };
      break;
    }
    case 'Dense': {
      // Keras applies a Dense layer to the last axis, whatever the rank: MatMul on the channels-last value.
      const units = Number(c.units);
      const cin = x.shape[x.shape.length - 1];
      const kernel = weight(name, 'kernel') as Float32Array;
      if (kernel.length !== cin * units) fail(`layer ${name}: kernel size does not match its input`);
      let y = b.op('MatMul', [toKeras(x), b.constant(`${name}/kernel`, [cin, units], Float32Array.from(kernel))]);
      if (c.use_bias !== false)
        y = b.op('Add', [y, b.constant(`${name}/bias`, [units], Float32Array.from(weight(name, 'bias') as Float32Array))]);
      out = { name: activation(y, c.activation ?? 'linear', 'keras'), layout: 'keras', shape: [...x.shape.slice(0, -1), units] };
      break;
    }
    case 'UpSampling2D': {
      // Nearest-neighbour repeat of every pixel: Resize with integer scales, floor of the asymmetric source.
      const [sh, sw] = pair(c.size ?? 2, 'size');
      if ((c.interpolation ?? 'nearest') !== 'nearest') fail(`layer ${name}: interpolation ${String(c.interpolation)}`);
      const resized = b.op(
        'Resize',
        [toNchw(x), '', b.floats(`${name}/scales`, [1, 1, sh, sw])],
        { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
        name,
      );
      out = { name: resized, layout: 'nchw', shape: [x.shape[0] * sh, x.shape[1] * sw, x.shape[2]] };
      break;
    }
    case 'Dropout':
    case 'SpatialDropout2D':
      out = { ...x }; // inference: the identity
      break;
    case 'Add': {
      const layout = ins.every((v) => v.layout === 'nchw') ? 'nchw' : 'keras';
      const names = ins.map((v) => (layout === 'nchw' ? realize(v) : toKeras(v)));
      out = { name: names.slice(1).reduce((acc, n) => b.op('Add', [acc, n]), names[0]), layout, shape: x.shape };
      break;
    }
    default:
      return fail(`layer ${name} of type ${layer.class_name}`);
  }
  return { out, inputSize };
}
