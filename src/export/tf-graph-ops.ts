// Ops (src/model/ops.ts) that record a TensorFlow GraphDef in the JSON form of a TensorFlow.js
// GraphModel's model.json (format 'graph-model'): how `capgen export` turns any DecoderSpec's
// initState/step into files that `tf.loadGraphModel` runs, with no capgen code at load time.
// Only forward ops (no gradients): these graphs are for decoding. Every constant, weights included,
// is a Const node whose value lives in the weights shard, as tensorflowjs_converter writes them.
import type { Ops, Shape } from '../model/ops.js';
import { broadcastShapes, unrolledLstm } from '../model/ops.js';

/** A recorded value: the tensor name ("node" or "node:k") and its static shape (-1 = run-time). */
export interface TfSym {
  readonly name: string;
  readonly shape: Shape;
  readonly dtype: 'float32' | 'int32';
}

/** One GraphDef node, as model.json holds it (attr values in the AttrValue proto's JSON form). */
export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, unknown>;
}

export interface TfWeight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

const DT = { float32: 'DT_FLOAT', int32: 'DT_INT32' } as const;

const tensorShape = (shape: Shape) => ({ dim: shape.map((d) => ({ size: String(d) })) });

export class TfGraphOps implements Ops<TfSym> {
  readonly kind = 'graph' as const;
  readonly nodes: TfNode[] = [];
  readonly weights: TfWeight[] = [];
  readonly inputs: TfSym[] = [];
  readonly outputs: TfSym[] = [];
  private counter = 0;
  private readonly intCache = new Map<string, TfSym>();

  /** A Placeholder input (shape -1 where the size varies, e.g. the batch). */
  input(name: string, shape: Shape, dtype: TfSym['dtype'] = 'float32'): TfSym {
    this.nodes.push({ name, op: 'Placeholder', attr: { dtype: { type: DT[dtype] }, shape: { shape: tensorShape(shape) } } });
    const sym = { name, shape, dtype };
    this.inputs.push(sym);
    return sym;
  }

  /** Names `x` as an output (an Identity node called `name`). */
  output(name: string, x: TfSym): void {
    this.nodes.push({ name, op: 'Identity', input: [x.name], attr: { T: { type: DT[x.dtype] } } });
    this.outputs.push({ name, shape: x.shape, dtype: x.dtype });
  }

  /** A named constant held in the weights shard (a decoder weight: readable names in the manifest). */
  weight(name: string, values: Float32Array, shape: Shape): TfSym {
    this.nodes.push({
      name,
      op: 'Const',
      attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: tensorShape(shape) } } },
    });
    this.weights.push({ name, shape: [...shape], dtype: 'float32', data: values });
    return { name, shape, dtype: 'float32' };
  }

  private node(op: string, inputs: TfSym[], shape: Shape, attr: Record<string, unknown> = {}, dtype: TfSym['dtype'] = 'float32'): TfSym {
    const name = `${op}_${this.counter++}`;
    this.nodes.push({ name, op, input: inputs.map((i) => i.name), attr: { T: { type: DT[dtype] }, ...attr } });
    return { name, shape, dtype };
  }

  /** An int32 vector constant (shapes, axes, permutations, split sizes), shared when repeated. */
  private ints(values: number[]): TfSym {
    const key = values.join(',');
    let s = this.intCache.get(key);
    if (!s) {
      const name = `ints_${this.counter++}`;
      this.nodes.push({
        name,
        op: 'Const',
        attr: { dtype: { type: 'DT_INT32' }, value: { tensor: { dtype: 'DT_INT32', tensorShape: tensorShape([values.length]) } } },
      });
      this.weights.push({ name, shape: [values.length], dtype: 'int32', data: Int32Array.from(values) });
      s = { name, shape: [values.length], dtype: 'int32' };
      this.intCache.set(key, s);
    }
    return s;
  }

  /** An int32 scalar constant (an axis). */
  private intScalar(value: number): TfSym {
    const name = `int_${this.counter++}`;
    this.nodes.push({
      name,
      op: 'Const',
      attr: { dtype: { type: 'DT_INT32' }, value: { tensor: { dtype: 'DT_INT32', tensorShape: tensorShape([]) } } },
    });
    this.weights.push({ name, shape: [], dtype: 'int32', data: Int32Array.of(value) });
    return { name, shape: [], dtype: 'int32' };
  }

  // ---- Ops ----

  shape(x: TfSym): Shape {
    return x.shape;
  }

  constant(values: Float32Array, shape: Shape): TfSym {
    return this.weight(`const_${this.counter++}`, values, shape);
  }

  matmul(a: TfSym, b: TfSym, opts: { transposeB?: boolean } = {}): TfSym {
    const transposeB = opts.transposeB ?? false;
    const n = b.shape[transposeB ? b.shape.length - 2 : b.shape.length - 1];
    if (a.shape.length === 2 && b.shape.length === 2) {
      return this.node('MatMul', [a, b], [a.shape[0], n], { transpose_a: { b: false }, transpose_b: { b: transposeB } });
    }
    if (a.shape.length === b.shape.length) {
      const lead = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
      return this.node('BatchMatMulV2', [a, b], [...lead, a.shape[a.shape.length - 2], n], {
        adj_x: { b: false },
        adj_y: { b: transposeB },
      });
    }
    // [..., M, K] x [K, N]: fold the leading dimensions into M, as the tfjs engine does.
    const k = a.shape[a.shape.length - 1];
    const flat = this.reshape(a, [-1, k]);
    const out = this.node('MatMul', [flat, b], [-1, n], { transpose_a: { b: false }, transpose_b: { b: transposeB } });
    return this.reshape(out, [...a.shape.slice(0, -1), n]);
  }
  add(a: TfSym, b: TfSym): TfSym {
    return this.node('AddV2', [a, b], broadcastShapes(a.shape, b.shape));
  }
  sub(a: TfSym, b: TfSym): TfSym {
    return this.node('Sub', [a, b], broadcastShapes(a.shape, b.shape));
  }
  mul(a: TfSym, b: TfSym): TfSym {
    return this.node('Mul', [a, b], broadcastShapes(a.shape, b.shape));
  }
  scale(x: TfSym, k: number): TfSym {
    return this.mul(x, this.constant(Float32Array.of(k), []));
  }
  sigmoid(x: TfSym): TfSym {
    return this.node('Sigmoid', [x], x.shape);
  }
  tanh(x: TfSym): TfSym {
    return this.node('Tanh', [x], x.shape);
  }
  relu(x: TfSym): TfSym {
    return this.node('Relu', [x], x.shape);
  }
  exp(x: TfSym): TfSym {
    return this.node('Exp', [x], x.shape);
  }
  sqrt(x: TfSym): TfSym {
    return this.node('Sqrt', [x], x.shape);
  }
  reciprocal(x: TfSym): TfSym {
    return this.node('Reciprocal', [x], x.shape);
  }
  softmax(x: TfSym): TfSym {
    return this.node('Softmax', [x], x.shape);
  }
  logSoftmax(x: TfSym): TfSym {
    return this.node('LogSoftmax', [x], x.shape);
  }
  private reduce(op: 'Sum' | 'Mean', x: TfSym, axes: number[], keepDims: boolean): TfSym {
    const rank = x.shape.length;
    const norm = axes.map((a) => (a < 0 ? a + rank : a));
    const shape = keepDims ? x.shape.map((d, i) => (norm.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !norm.includes(i));
    return this.node(op, [x, this.ints(norm)], shape, { keep_dims: { b: keepDims }, Tidx: { type: 'DT_INT32' } });
  }
  sum(x: TfSym, axes: number[], keepDims = false): TfSym {
    return this.reduce('Sum', x, axes, keepDims);
  }
  mean(x: TfSym, axes: number[], keepDims = false): TfSym {
    return this.reduce('Mean', x, axes, keepDims);
  }
  reshape(x: TfSym, shape: Shape): TfSym {
    // A static size stays static: only a -1 that stands for the run-time batch is left to TensorFlow.
    const known = x.shape.every((d) => d >= 0) ? x.shape.reduce((p, d) => p * d, 1) : -1;
    const rest = shape.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
    const out = shape.map((d) => (d === -1 && known >= 0 ? known / rest : d));
    return this.node('Reshape', [x, this.ints([...shape])], out, { Tshape: { type: 'DT_INT32' } });
  }
  transpose(x: TfSym, perm: number[]): TfSym {
    return this.node(
      'Transpose',
      [x, this.ints(perm)],
      perm.map((p) => x.shape[p]),
      { Tperm: { type: 'DT_INT32' } },
    );
  }
  concat(xs: TfSym[], axis: number): TfSym {
    const rank = xs[0].shape.length;
    const ax = axis < 0 ? axis + rank : axis;
    const shape = xs[0].shape.map((d, i) =>
      i === ax ? (xs.some((x) => x.shape[i] === -1) ? -1 : xs.reduce((s, x) => s + x.shape[i], 0)) : d,
    );
    const name = `ConcatV2_${this.counter++}`;
    this.nodes.push({
      name,
      op: 'ConcatV2',
      input: [...xs.map((x) => x.name), this.intScalar(ax).name],
      attr: { T: { type: DT[xs[0].dtype] }, N: { i: String(xs.length) }, Tidx: { type: 'DT_INT32' } },
    });
    return { name, shape, dtype: xs[0].dtype };
  }
  split(x: TfSym, sizes: number[], axis: number): TfSym[] {
    const rank = x.shape.length;
    const ax = axis < 0 ? axis + rank : axis;
    const name = `SplitV_${this.counter++}`;
    this.nodes.push({
      name,
      op: 'SplitV',
      input: [x.name, this.ints(sizes).name, this.intScalar(ax).name],
      attr: { T: { type: DT[x.dtype] }, num_split: { i: String(sizes.length) }, Tlen: { type: 'DT_INT32' } },
    });
    return sizes.map((s, k) => ({
      name: k === 0 ? name : `${name}:${k}`,
      shape: x.shape.map((d, i) => (i === ax ? s : d)),
      dtype: x.dtype,
    }));
  }
  gather(x: TfSym, ids: TfSym): TfSym {
    const name = `GatherV2_${this.counter++}`;
    this.nodes.push({
      name,
      op: 'GatherV2',
      input: [x.name, ids.name, this.intScalar(0).name],
      attr: { Tparams: { type: DT[x.dtype] }, Tindices: { type: 'DT_INT32' }, Taxis: { type: 'DT_INT32' }, batch_dims: { i: '0' } },
    });
    return { name, shape: [...ids.shape, ...x.shape.slice(1)], dtype: x.dtype };
  }
  gatherMatmul(table: TfSym, ids: TfSym, kernel: TfSym): TfSym {
    return this.matmul(this.gather(table, ids), kernel);
  }

  lstmSequence(xProj: TfSym, recurrent: TfSym, timeSteps: number): TfSym {
    return unrolledLstm(this, xProj, recurrent, timeSteps);
  }
}
