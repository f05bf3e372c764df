// An ONNX graph from a TensorFlow.js layers model (model.json topology + its float32 weights), cut at
// a layer, for the layer types of convolutional encoders (MobileNet, DenseNet, Inception, VGG).
// BatchNormalization is folded into the convolution before it. Anything else: no graph, and the reason (tfjs runs it then).
import type { EncoderIdentity } from '../../run/formats.js';
import { GraphBuilder } from './graph-builder.js';
import { convertLayer, layerContext, type Value } from './layers-convert.js';
import { fail, parseTopology, readWeights, Unsupported, type LayerJson, type LayersModelJson } from './layers-json.js';
import type { OnnxModel } from '../../engine/onnx/proto.js';

export type { LayersModelJson } from './layers-json.js';

export interface LayersGraphOptions {
  json: LayersModelJson;
  /** The weight files of the manifest, concatenated in manifest order... */
  weightData?: Uint8Array;
  /** ...or the weights already read, by `layer/param` (the Keras Applications encoders). */
  weights?: Map<string, { shape: number[]; values: Float32Array }>;
  layer?: string;
  preprocess: EncoderIdentity['preprocess'];
  pooling: EncoderIdentity['pooling'];
}

export type LayersGraphOutcome =
  { ok: true; model: OnnxModel; layer: string; inputSize: [number, number]; featureShape: number[] } | { ok: false; reason: string };

export function layersGraph(opts: LayersGraphOptions): LayersGraphOutcome {
  try {
    return build(opts);
  } catch (e) {
    if (e instanceof Unsupported) return { ok: false, reason: e.message };
    throw e;
  }
}

function build(opts: LayersGraphOptions): LayersGraphOutcome {
  const { layers, inputsOf, output } = parseTopology(opts.json.modelTopology);
  const weights = opts.weights ?? readWeights(opts.json, opts.weightData ?? new Uint8Array(0));
  const target = opts.layer ?? output;
  const nameOf = (l: LayerJson) => (l.config.name ?? l.name) as string;
  if (!layers.some((l) => nameOf(l) === target)) fail(`no layer '${target}'`);
  // The layers the cut model needs, and how many of them read each one.
  const needed = new Set<string>();
  const stack = [target];
  while (stack.length) {
    const n = stack.pop() as string;
    if (needed.has(n)) continue;
    needed.add(n);
    stack.push(...(inputsOf.get(n) ?? []));
  }
  const readers = new Map<string, number>();
  for (const n of needed) for (const i of inputsOf.get(n) ?? []) readers.set(i, (readers.get(i) ?? 0) + 1);

  const b = new GraphBuilder();
  const values = new Map<string, Value>();
  let inputSize: [number, number] | undefined;
  const ctx = layerContext(b, weights, opts.preprocess);
  for (const layer of layers) {
    const name = nameOf(layer);
    if (!needed.has(name)) continue;
    const ins = (inputsOf.get(name) ?? []).map((i) => values.get(i) ?? fail(`layer ${name} reads '${i}' before it is computed`));
    const { out, inputSize: size } = convertLayer(ctx, layer, ins);
    inputSize ??= size;
    out.shared = (readers.get(name) ?? 0) > 1 || name === target;
    values.set(name, out);
  }

  const last = values.get(target) as Value;
  if (!inputSize) fail('no InputLayer');
  let result: string;
  let featureShape = last.shape;
  if (opts.pooling === 'avg' && last.shape.length === 3) {
    featureShape = [last.shape[2]];
    result =
      last.layout === 'nchw'
        ? b.op('Flatten', [b.op('GlobalAveragePool', [ctx.realize(last)])], { axis: 1 })
        : b.op('ReduceMean', [ctx.realize(last)], { axes: [1, 2], keepdims: 0 });
  } else {
    result = last.shape.length === 3 ? ctx.toKeras(last) : ctx.realize(last);
  }
  const size = inputSize as [number, number];
  return {
    ok: true,
    model: b.finish({ graphName: 'tfjs-layers', inputSize: size, result, outputShape: featureShape }),
    layer: target,
    inputSize: size,
    featureShape,
  };
}
