// Reading a TensorFlow.js layers model for the ONNX converter: the layer list of its topology
// (functional or Sequential) with each layer's input layers, and its float32 weights by name.

export interface LayerJson {
  class_name: string;
  name?: string;
  config: Record<string, unknown> & { name?: string };
  inbound_nodes?: unknown;
}

export interface LayersModelJson {
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: { name: string; shape: number[]; dtype?: string; quantization?: unknown }[] }[];
}

/** A model the converter cannot express; its message is the reason given to the user. */
export class Unsupported extends Error {}
export const fail = (why: string): never => {
  throw new Unsupported(why);
};

/** Layer configs and their single input layers, for functional (Model/Functional) and Sequential topologies. */
export function parseTopology(topology: unknown): { layers: LayerJson[]; inputsOf: Map<string, string[]>; output: string } {
  const top = topology as { model_config?: unknown; class_name?: string };
  const model = (top.model_config ?? top) as { class_name?: string; config?: unknown };
  const inputsOf = new Map<string, string[]>();
  if (model.class_name === 'Sequential') {
    const cfg = model.config as { layers?: LayerJson[] } | LayerJson[];
    const layers = Array.isArray(cfg) ? cfg : (cfg.layers ?? []);
    if (!layers.length) fail('an empty Sequential model');
    const nameOf = (l: LayerJson) => (l.config.name ?? l.name) as string;
    const first = layers[0];
    const all =
      first.class_name === 'InputLayer'
        ? layers
        : [{ class_name: 'InputLayer', config: { name: 'input', batch_input_shape: first.config.batch_input_shape } }, ...layers];
    all.forEach((l, i) => inputsOf.set(nameOf(l), i ? [nameOf(all[i - 1])] : []));
    return { layers: all, inputsOf, output: nameOf(all[all.length - 1]) };
  }
  if (model.class_name !== 'Model' && model.class_name !== 'Functional')
    fail(`a '${model.class_name}' model (not functional or Sequential)`);
  const cfg = model.config as { layers: LayerJson[]; output_layers: [string, number, number][] };
  for (const l of cfg.layers) {
    const nodes = (l.inbound_nodes ?? []) as unknown[];
    if (nodes.length > 1) fail(`layer ${l.name} is used more than once`);
    const node = (nodes[0] ?? []) as unknown[];
    if (!Array.isArray(node)) fail(`layer ${l.name}: an inbound-node format this converter does not read (Keras 3?)`);
    inputsOf.set(
      l.config.name ?? (l.name as string),
      node.map((n) => (Array.isArray(n) && n[1] === 0 && n[2] === 0 ? (n[0] as string) : fail(`layer ${l.name}: a multi-output input`))),
    );
  }
  if (cfg.output_layers.length !== 1) fail('a model with several outputs');
  return { layers: cfg.layers, inputsOf, output: cfg.output_layers[0][0] };
}

/** float32 weights by name ('conv1/kernel'); quantized or other dtypes are not read. */
export function readWeights(json: LayersModelJson, data: Uint8Array): Map<string, { shape: number[]; values: Float32Array }> {
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  let offset = 0;
  for (const group of json.weightsManifest ?? []) {
    for (const w of group.weights) {
      if (w.quantization) fail(`weight ${w.name} is quantized`);
      if (w.dtype && w.dtype !== 'float32') fail(`weight ${w.name} is ${w.dtype}`);
      const bytes = w.shape.reduce((a, b) => a * b, 1) * 4;
      if (offset + bytes > data.length) fail('the weight files are shorter than the manifest says');
      out.set(w.name.replace(/:0$/, ''), {
        shape: w.shape,
        values: new Float32Array(Uint8Array.prototype.slice.call(data, offset, offset + bytes).buffer),
      }); // a copy: Buffer#slice is a view
      offset += bytes;
    }
  }
  return out;
}

export const pair = (v: unknown, what: string): [number, number] =>
  typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? [Number(v[0]), Number(v[1])] : fail(`${what} ${JSON.stringify(v)}`);
