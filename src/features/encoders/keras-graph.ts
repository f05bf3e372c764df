// A Keras functional model written as data: the layer list of a model.json topology (Keras 2 style,
// what tfjs-layers' modelFromJSON and the ONNX converter read), with the shape of every value and the
// weights each layer holds, so an architecture file reads like its keras.applications source.

/** One layer of the topology, as Keras' `model.to_json()` writes it. */
export interface KerasLayerJson {
  class_name: string;
  name: string;
  config: Record<string, unknown> & { name: string };
  inbound_nodes: [string, 0, 0, Record<string, never>][][];
}

/** One weight of a layer, named as in a Keras h5 file (`block1_conv1/kernel:0`). */
export interface KerasWeightShape {
  layer: string;
  name: string;
  shape: number[];
}

/** [height, width, channels] of a value, without the batch. */
export type Shape3 = [number, number, number];

/** What an architecture file hands back: topology, the output layer and the weights it needs. */
export interface KerasGraph {
  /** `{ class_name: 'Model', config: { layers, input_layers, output_layers } }` */
  modelTopology: {
    class_name: 'Model';
    config: { name: string; layers: KerasLayerJson[]; input_layers: [string, 0, 0][]; output_layers: [string, 0, 0][] };
  };
  output: string;
  outputShape: Shape3;
  /** Every weight in layer order, then Keras' per-layer order (kernel, bias / gamma, beta, moving_mean, moving_variance). */
  weights: KerasWeightShape[];
}

type Padding = 'same' | 'valid';

/** TF's output size of one spatial axis. */
function outSize(size: number, kernel: number, stride: number, padding: Padding): number {
  return padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - kernel) / stride) + 1;
}

export class KerasGraphBuilder {
  private readonly layers: KerasLayerJson[] = [];
  private readonly shapes = new Map<string, Shape3>();
  private readonly weights: KerasWeightShape[] = [];
  private readonly counters = new Map<string, number>();

  constructor(
    private readonly modelName: string,
    inputSize: [number, number],
  ) {
    this.add(
      'InputLayer',
      'input_1',
      { batch_input_shape: [null, inputSize[0], inputSize[1], 3], dtype: 'float32', sparse: false },
      [],
      [inputSize[0], inputSize[1], 3],
    );
  }

  /** Keras' automatic layer name: `conv2d_1`, `conv2d_2`, ... (numbered from 1, as Keras 2.0 did). */
  autoName(prefix: string): string {
    const n = (this.counters.get(prefix) ?? 0) + 1;
    this.counters.set(prefix, n);
    return `${prefix}_${n}`;
  }

  shape(value: string): Shape3 {
    const s = this.shapes.get(value);
    if (!s) throw new Error(`keras-graph: no value '${value}'`);
    return s;
  }

  private add(className: string, name: string, config: Record<string, unknown>, inputs: string[], shape: Shape3): string {
    if (this.shapes.has(name)) throw new Error(`keras-graph: layer '${name}' defined twice`);
    const inbound = inputs.length ? [inputs.map((i) => [i, 0, 0, {}] as [string, 0, 0, Record<string, never>])] : [];
    this.layers.push({ class_name: className, name, config: { name, trainable: true, ...config }, inbound_nodes: inbound });
    this.shapes.set(name, shape);
    return name;
  }

  conv(
    x: string,
    opts: {
      name: string;
      filters: number;
      kernel: [number, number];
      strides?: number;
      padding?: Padding;
      useBias?: boolean;
      activation?: 'relu' | 'linear';
    },
  ): string {
    const [h, w, cin] = this.shape(x);
    const [kh, kw] = opts.kernel;
    const strides = opts.strides ?? 1;
    const padding = opts.padding ?? 'valid'; // Keras' Conv2D default
    const useBias = opts.useBias ?? true;
    this.weights.push({ layer: opts.name, name: `${opts.name}/kernel:0`, shape: [kh, kw, cin, opts.filters] });
    if (useBias) this.weights.push({ layer: opts.name, name: `${opts.name}/bias:0`, shape: [opts.filters] });
    return this.add(
      'Conv2D',
      opts.name,
      {
        filters: opts.filters,
        kernel_size: [kh, kw],
        strides: [strides, strides],
        padding,
        data_format: 'channels_last',
        dilation_rate: [1, 1],
        activation: opts.activation ?? 'linear',
        use_bias: useBias,
        // Overwritten by the file's (or seeded) weights: zeros make building the model cheap.
        kernel_initializer: { class_name: 'Zeros', config: {} },
        bias_initializer: { class_name: 'Zeros', config: {} },
      },
      [x],
      [outSize(h, kh, strides, padding), outSize(w, kw, strides, padding), opts.filters],
    );
  }

  batchNorm(x: string, opts: { name: string; epsilon: number; scale?: boolean }): string {
    const shape = this.shape(x);
    const scale = opts.scale ?? true;
    for (const p of [...(scale ? ['gamma'] : []), 'beta', 'moving_mean', 'moving_variance'])
      this.weights.push({ layer: opts.name, name: `${opts.name}/${p}:0`, shape: [shape[2]] });
    return this.add('BatchNormalization', opts.name, { axis: 3, momentum: 0.99, epsilon: opts.epsilon, center: true, scale }, [x], shape);
  }

  relu(x: string, name: string): string {
    return this.add('Activation', name, { activation: 'relu' }, [x], this.shape(x));
  }

  zeroPad(x: string, name: string, pad: number): string {
    const [h, w, c] = this.shape(x);
    return this.add(
      'ZeroPadding2D',
      name,
      {
        padding: [
          [pad, pad],
          [pad, pad],
        ],
        data_format: 'channels_last',
      },
      [x],
      [h + 2 * pad, w + 2 * pad, c],
    );
  }

  pool(kind: 'max' | 'avg', x: string, opts: { name: string; size: number; strides: number; padding?: Padding }): string {
    const [h, w, c] = this.shape(x);
    const padding = opts.padding ?? 'valid';
    const config = { pool_size: [opts.size, opts.size], strides: [opts.strides, opts.strides], padding, data_format: 'channels_last' };
    return this.add(
      kind === 'max' ? 'MaxPooling2D' : 'AveragePooling2D',
      opts.name,
      config,
      [x],
      [outSize(h, opts.size, opts.strides, padding), outSize(w, opts.size, opts.strides, padding), c],
    );
  }

  /** Concatenation over the channels (Keras' axis 3 = -1 in channels_last). */
  concat(xs: string[], name: string): string {
    const shapes = xs.map((x) => this.shape(x));
    const [h, w] = shapes[0];
    if (shapes.some((s) => s[0] !== h || s[1] !== w)) throw new Error(`keras-graph: ${name} concatenates maps of different sizes`);
    return this.add('Concatenate', name, { axis: -1 }, xs, [h, w, shapes.reduce((a, s) => a + s[2], 0)]);
  }

  finish(output: string): KerasGraph {
    return {
      modelTopology: {
        class_name: 'Model',
        config: { name: this.modelName, layers: this.layers, input_layers: [['input_1', 0, 0]], output_layers: [[output, 0, 0]] },
      },
      output,
      outputShape: this.shape(output),
      weights: this.weights,
    };
  }
}

/** Total number of weights (Keras' "Total params" of the model). */
export function parameterCount(graph: KerasGraph): number {
  return graph.weights.reduce((sum, w) => sum + w.shape.reduce((a, b) => a * b, 1), 0);
}

/** Names of the layers that hold weights, in order (the groups of a Keras h5 file that have datasets). */
export function weightedLayers(graph: KerasGraph): string[] {
  return [...new Set(graph.weights.map((w) => w.layer))];
}
