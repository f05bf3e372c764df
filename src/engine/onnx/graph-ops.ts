// Ops (src/model/ops.ts) that record an ONNX graph instead of computing, plus reverse-mode
// differentiation of what they recorded: every op appends its forward node(s) and a rule that emits
// its inputs' gradients as more nodes. A decoder's teacher-forced pass recorded here, seeded with
// d(loss)/d(logits), becomes one forward+backward graph that ONNX Runtime runs per training step.
// Each rule sits next to its op; test/engine/grad-rules.test.ts checks each one alone (tfjs autodiff
// and finite differences), test/engine/onnx-grads.test.ts whole decoders.
import type { OnnxAttribute, OnnxInitializer, OnnxNode, OnnxValueInfo } from './proto.js';
import type { Ops, Shape } from '../../model/ops.js';
import { broadcastShapes, unrolledLstm } from '../../model/ops.js';

/** Opset 18: Split by `num_outputs`, ScatterND and ScatterElements with reduction 'add', Reduce* axes as inputs. */
export const DECODER_OPSET = 18;

export interface Sym {
  readonly name: string;
  /** Static shape; -1 where only known at run time. */
  readonly shape: Shape;
  readonly type: 'float' | 'int32' | 'int64';
  /** Depends on a trainable input (gradients flow to it). */
  readonly trainable: boolean;
  /** Int inputs only: no value occurs twice (the scored positions), so scattering by them cannot collide. */
  readonly distinct?: boolean;
}

interface TapeEntry {
  inputs: Sym[];
  outputs: Sym[];
  /** Gradients of the outputs (undefined = none reached it) -> gradients of the inputs. */
  backward(grads: (Sym | undefined)[]): (Sym | undefined)[];
}

const product = (dims: number[]) => dims.reduce((p, d) => p * d, 1);

export class GraphOps implements Ops<Sym> {
  readonly kind = 'graph' as const;
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];
  readonly inputs: OnnxValueInfo[] = [];
  readonly outputs: OnnxValueInfo[] = [];
  private readonly tape: TapeEntry[] = [];
  private counter = 0;
  private readonly int64Cache = new Map<string, Sym>();
  /** Names of the float initializers made by constant(): values known when the graph is built. */
  private readonly constants = new Set<string>();

  // ---- graph plumbing ----

  /** A graph input. `trainable` inputs are the ones backward() can return gradients for. */
  input(name: string, shape: Shape, opts: { type?: Sym['type']; trainable?: boolean; distinct?: boolean } = {}): Sym {
    const type = opts.type ?? 'float';
    this.inputs.push({ name, shape: shape.map((d, i) => (d === -1 ? `${name}_${i}` : d)), type });
    return { name, shape, type, trainable: opts.trainable ?? false, ...(opts.distinct ? { distinct: true } : {}) };
  }

  /** Names `x` as a graph output. */
  output(name: string, x: Sym): void {
    this.nodes.push({ op: 'Identity', inputs: [x.name], outputs: [name], name });
    this.outputs.push({ name, shape: x.shape.map((d, i) => (d === -1 ? `${name}_${i}` : d)), type: x.type });
  }

  /** Emits a node; returns its outputs' names. */
  private emit(op: string, inputs: string[], attributes?: Record<string, OnnxAttribute>, outputCount = 1): string[] {
    const base = `${op}_${this.counter++}`;
    const outputs = Array.from({ length: outputCount }, (_, i) => (outputCount === 1 ? base : `${base}:${i}`));
    this.nodes.push({ op, inputs, outputs, name: base, attributes });
    return outputs;
  }

  private sym(name: string, shape: Shape, trainable: boolean, type: Sym['type'] = 'float'): Sym {
    return { name, shape, type, trainable };
  }

  /** One-output op on float inputs, recorded with its gradient rule when an input is trainable. */
  private unary(
    op: string,
    inputs: Sym[],
    shape: Shape,
    backward: TapeEntry['backward'] | undefined,
    attributes?: Record<string, OnnxAttribute>,
  ): Sym {
    const [name] = this.emit(
      op,
      inputs.map((i) => i.name),
      attributes,
    );
    const trainable = inputs.some((i) => i.trainable);
    const out = this.sym(name, shape, trainable);
    if (trainable && backward) this.tape.push({ inputs, outputs: [out], backward });
    return out;
  }

  int64s(values: number[]): Sym {
    const key = values.join(',');
    let s = this.int64Cache.get(key);
    if (!s) {
      const name = `i64_${this.counter++}`;
      this.initializers.push({ name, dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
      s = this.sym(name, [values.length], false, 'int64');
      this.int64Cache.set(key, s);
    }
    return s;
  }

  private scalarConst(value: number): Sym {
    return this.constant(Float32Array.of(value), []);
  }

  /** Raw (unrecorded) node with one output of the given shape: for gradient rules and losses. */
  raw(op: string, inputs: Sym[], shape: Shape, opts: { attributes?: Record<string, OnnxAttribute>; type?: Sym['type'] } = {}): Sym {
    const [name] = this.emit(
      op,
      inputs.map((i) => i.name),
      opts.attributes,
    );
    return this.sym(name, shape, false, opts.type ?? 'float');
  }

  /**
   * The k largest entries of the last axis, best first (unrecorded: for search graphs): values and
   * their int32 indices. `k` is an int64 [1] input, so one graph serves every beam width.
   */
  topK(x: Sym, k: Sym): { values: Sym; indices: Sym } {
    const [values, indices] = this.emit('TopK', [x.name, k.name], { axis: -1, largest: 1, sorted: 1 }, 2);
    const shape = [...x.shape.slice(0, -1), -1];
    const int32 = this.raw('Cast', [this.sym(indices, shape, false, 'int64')], shape, { attributes: { to: 6 }, type: 'int32' });
    return { values: this.sym(values, shape, false), indices: int32 };
  }

  private shapeOf(x: Sym): Sym {
    return this.raw('Shape', [x], [x.shape.length], { type: 'int64' });
  }

  private zerosLike(x: Sym): Sym {
    return this.raw('ConstantOfShape', [this.shapeOf(x)], x.shape);
  }

  /** Sums g (of broadcast shape) down to `target`'s shape: the gradient rule of broadcasting. */
  private unbroadcast(g: Sym, target: Shape): Sym {
    const lead = g.shape.length - target.length;
    const axes: number[] = [];
    for (let i = 0; i < g.shape.length; i++) {
      if (i < lead || (target[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
    }
    if (!axes.length) return g;
    const kept = g.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    let r = this.raw('ReduceSum', [g, this.int64s(axes)], kept, { attributes: { keepdims: 1 } });
    if (lead) r = this.raw('Reshape', [r, this.int64s([...target])], target);
    return r;
  }

  // ---- Ops ----

  shape(x: Sym): Shape {
    return x.shape;
  }

  constant(values: Float32Array, shape: Shape): Sym {
    const name = `const_${this.counter++}`;
    this.initializers.push({ name, dims: [...shape], data: values });
    this.constants.add(name);
    return this.sym(name, shape, false);
  }

  matmul(a: Sym, b: Sym, opts: { transposeB?: boolean } = {}): Sym {
    if (opts.transposeB) {
      const perm = [...b.shape.keys()];
      perm.splice(-2, 2, perm.length - 1, perm.length - 2);
      b = this.transpose(b, perm);
    }
    const m = a.shape[a.shape.length - 2];
    const n = b.shape[b.shape.length - 1];
    const lead = b.shape.length === 2 ? a.shape.slice(0, -2) : broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const shape = [...lead, m, n];
    return this.unary('MatMul', [a, b], shape, ([g]) => {
      if (!g) return [undefined, undefined];
      const ga = a.trainable ? this.matmulRaw(g, b, { transB: true, shape: a.shape }) : undefined;
      let gb: Sym | undefined;
      if (b.trainable) {
        if (b.shape.length === 2 && a.shape.length > 2) {
          // b shared over a's leading dimensions: fold them into the rows.
          const k = a.shape[a.shape.length - 1];
          const a2 = this.raw('Reshape', [a, this.int64s([-1, k])], [-1, k]);
          const g2 = this.raw('Reshape', [g, this.int64s([-1, n])], [-1, n]);
          gb = this.matmulRaw(a2, g2, { transA: true, shape: b.shape });
        } else {
          gb = this.matmulRaw(a, g, { transA: true, shape: b.shape });
        }
      }
      return [ga, gb];
    });
  }

  /** a x b with either transposed, unrecorded: Gemm for 2-D (no transposed copies), else Transpose + MatMul. */
  private matmulRaw(a: Sym, b: Sym, opts: { transA?: boolean; transB?: boolean; shape: Shape }): Sym {
    if (a.shape.length === 2 && b.shape.length === 2) {
      return this.raw('Gemm', [a, b], opts.shape, { attributes: { transA: opts.transA ? 1 : 0, transB: opts.transB ? 1 : 0 } });
    }
    const swap = (x: Sym) => {
      const perm = [...x.shape.keys()];
      perm.splice(-2, 2, perm.length - 1, perm.length - 2);
      const shape = perm.map((p) => x.shape[p]);
      return this.raw('Transpose', [x], shape, { attributes: { perm } });
    };
    const product = this.raw('MatMul', [opts.transA ? swap(a) : a, opts.transB ? swap(b) : b], opts.shape);
    return product;
  }

  add(a: Sym, b: Sym): Sym {
    return this.unary('Add', [a, b], broadcastShapes(a.shape, b.shape), ([g]) => [
      g && a.trainable ? this.unbroadcast(g, a.shape) : undefined,
      g && b.trainable ? this.unbroadcast(g, b.shape) : undefined,
    ]);
  }

  sub(a: Sym, b: Sym): Sym {
    return this.unary('Sub', [a, b], broadcastShapes(a.shape, b.shape), ([g]) => [
      g && a.trainable ? this.unbroadcast(g, a.shape) : undefined,
      g && b.trainable ? this.unbroadcast(this.raw('Neg', [g], g.shape), b.shape) : undefined,
    ]);
  }

  mul(a: Sym, b: Sym): Sym {
    const shape = broadcastShapes(a.shape, b.shape);
    return this.unary('Mul', [a, b], shape, ([g]) => [
      g && a.trainable ? this.unbroadcast(this.raw('Mul', [g, b], shape), a.shape) : undefined,
      g && b.trainable ? this.unbroadcast(this.raw('Mul', [g, a], shape), b.shape) : undefined,
    ]);
  }

  scale(x: Sym, k: number): Sym {
    const c = this.scalarConst(k);
    return this.unary('Mul', [x, c], x.shape, ([g]) => [g && this.raw('Mul', [g, c], g.shape), undefined]);
  }

  sigmoid(x: Sym): Sym {
    const y: Sym = this.unary('Sigmoid', [x], x.shape, ([g]) => {
      if (!g) return [undefined];
      // g * y * (1 - y)
      const oneMinus = this.raw('Sub', [this.scalarConst(1), y], y.shape);
      return [this.raw('Mul', [g, this.raw('Mul', [y, oneMinus], y.shape)], y.shape)];
    });
    return y;
  }

  tanh(x: Sym): Sym {
    const y: Sym = this.unary('Tanh', [x], x.shape, ([g]) => {
      if (!g) return [undefined];
      const oneMinusSq = this.raw('Sub', [this.scalarConst(1), this.raw('Mul', [y, y], y.shape)], y.shape);
      return [this.raw('Mul', [g, oneMinusSq], y.shape)];
    });
    return y;
  }

  relu(x: Sym): Sym {
    // Sign(relu(x)) is 1 where x > 0 and 0 elsewhere: the derivative, without a comparison node.
    const y: Sym = this.unary('Relu', [x], x.shape, ([g]) => [g && this.raw('Mul', [g, this.raw('Sign', [y], y.shape)], y.shape)]);
    return y;
  }

  exp(x: Sym): Sym {
    const y: Sym = this.unary('Exp', [x], x.shape, ([g]) => [g && this.raw('Mul', [g, y], y.shape)]);
    return y;
  }

  sqrt(x: Sym): Sym {
    const y: Sym = this.unary('Sqrt', [x], x.shape, ([g]) => [
      g && this.raw('Div', [this.raw('Mul', [g, this.scalarConst(0.5)], g.shape), y], y.shape),
    ]);
    return y;
  }

  reciprocal(x: Sym): Sym {
    const y: Sym = this.unary('Reciprocal', [x], x.shape, ([g]) => [
      g && this.raw('Neg', [this.raw('Mul', [g, this.raw('Mul', [y, y], y.shape)], y.shape)], y.shape),
    ]);
    return y;
  }

  softmax(x: Sym): Sym {
    const last = x.shape.length - 1;
    const y: Sym = this.unary(
      'Softmax',
      [x],
      x.shape,
      ([g]) => {
        if (!g) return [undefined];
        // y * (g - sum(g * y))
        const dot = this.raw('ReduceSum', [this.raw('Mul', [g, y], y.shape), this.int64s([last])], [...y.shape.slice(0, -1), 1], {
          attributes: { keepdims: 1 },
        });
        return [this.raw('Mul', [y, this.raw('Sub', [g, dot], y.shape)], y.shape)];
      },
      { axis: last },
    );
    return y;
  }

  logSoftmax(x: Sym): Sym {
    const last = x.shape.length - 1;
    const y: Sym = this.unary(
      'LogSoftmax',
      [x],
      x.shape,
      ([g]) => {
        if (!g) return [undefined];
        // g - softmax(x) * sum(g)
        const total = this.raw('ReduceSum', [g, this.int64s([last])], [...y.shape.slice(0, -1), 1], { attributes: { keepdims: 1 } });
        return [this.raw('Sub', [g, this.raw('Mul', [this.raw('Exp', [y], y.shape), total], y.shape)], y.shape)];
      },
      { axis: last },
    );
    return y;
  }

  sum(x: Sym, axes: number[], keepDims = false): Sym {
    const norm = axes.map((a) => (a < 0 ? a + x.shape.length : a));
    const shape = keepDims ? x.shape.map((d, i) => (norm.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !norm.includes(i));
    const [name] = this.emit('ReduceSum', [x.name, this.int64s(norm).name], { keepdims: keepDims ? 1 : 0 });
    const out = this.sym(name, shape, x.trainable);
    if (x.trainable) {
      this.tape.push({
        inputs: [x],
        outputs: [out],
        backward: ([g]) => {
          if (!g) return [undefined];
          const kept = keepDims
            ? g
            : this.raw(
                'Unsqueeze',
                [g, this.int64s(norm)],
                x.shape.map((d, i) => (norm.includes(i) ? 1 : d)),
              );
          return [this.raw('Expand', [kept, this.shapeOf(x)], x.shape)];
        },
      });
    }
    return out;
  }

  mean(x: Sym, axes: number[], keepDims = false): Sym {
    const norm = axes.map((a) => (a < 0 ? a + x.shape.length : a));
    const counted = norm.map((a) => x.shape[a]);
    if (!counted.some((d) => d < 0)) return this.scale(this.sum(x, axes, keepDims), 1 / product(counted));
    // A dimension known only at run time (a growing cache): divide by the count the graph reads off x.
    const dims = this.raw('Gather', [this.shapeOf(x), this.int64s(norm)], [norm.length], { type: 'int64' });
    const count = this.raw('Cast', [this.raw('ReduceProd', [dims], [], { attributes: { keepdims: 0 }, type: 'int64' })], [], {
      attributes: { to: 1 },
    });
    return this.mul(this.sum(x, axes, keepDims), this.raw('Reciprocal', [count], []));
  }

  reshape(x: Sym, shape: Shape): Sym {
    if (shape.filter((d) => d === -1).length > 1) throw new Error(`graph: reshape to [${shape.join(', ')}] has more than one -1`);
    let out = [...shape];
    if (out.includes(-1) && !x.shape.includes(-1)) out = out.map((d) => (d === -1 ? product(x.shape as number[]) / -product(out) : d));
    return this.unary('Reshape', [x, this.int64s([...shape])], out, ([g]) => [g && this.raw('Reshape', [g, this.shapeOf(x)], x.shape)]);
  }

  transpose(x: Sym, perm: number[]): Sym {
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return this.unary(
      'Transpose',
      [x],
      perm.map((p) => x.shape[p]),
      ([g]) => [g && this.raw('Transpose', [g], x.shape, { attributes: { perm: inverse } })],
      { perm },
    );
  }

  concat(xs: Sym[], axis: number): Sym {
    const ax = axis < 0 ? axis + xs[0].shape.length : axis;
    const sizes = xs.map((x) => x.shape[ax]);
    const shape = xs[0].shape.map((d, i) => (i === ax ? (sizes.includes(-1) ? -1 : sizes.reduce((a, s) => a + s, 0)) : d));
    const [name] = this.emit(
      'Concat',
      xs.map((x) => x.name),
      { axis: ax },
    );
    const trainable = xs.some((x) => x.trainable);
    const out = this.sym(name, shape, trainable);
    if (trainable) {
      this.tape.push({
        inputs: xs,
        outputs: [out],
        backward: ([g]) => {
          if (!g) return xs.map(() => undefined);
          if (sizes.includes(-1)) throw new Error('graph: the gradient of concat needs static sizes along the axis');
          const names = this.emit('Split', [g.name, this.int64s(sizes).name], { axis: ax }, xs.length);
          return xs.map((x, i) => (x.trainable ? this.sym(names[i], x.shape, false) : undefined));
        },
      });
    }
    return out;
  }

  split(x: Sym, sizes: number[], axis: number): Sym[] {
    const ax = axis < 0 ? axis + x.shape.length : axis;
    const names = this.emit('Split', [x.name, this.int64s(sizes).name], { axis: ax }, sizes.length);
    const outs = names.map((n, i) =>
      this.sym(
        n,
        x.shape.map((d, j) => (j === ax ? sizes[i] : d)),
        x.trainable,
      ),
    );
    if (x.trainable) {
      this.tape.push({
        inputs: [x],
        outputs: outs,
        backward: (grads) => {
          if (grads.every((g) => !g)) return [undefined];
          const parts = grads.map((g, i) => g ?? this.zerosLike(outs[i]));
          return [this.raw('Concat', parts, x.shape, { attributes: { axis: ax } })];
        },
      });
    }
    return outs;
  }

  gather(x: Sym, ids: Sym): Sym {
    const shape = [...ids.shape, ...x.shape.slice(1)];
    return this.unary(
      'Gather',
      [x, ids],
      shape,
      ([g]) => {
        if (!g) return [undefined, undefined];
        // Add the rows back. ONNX Runtime's CPU ScatterND 'add' splits its updates across threads
        // without locks: fine (and fastest) when no id repeats, but on 2+ threads the updates of a
        // repeated id race and some are lost (measured: an embedding gradient off by up to 14). So
        // ids that may repeat (words) go through ScatterElements on indices spread over each row,
        // which runs serially, exactly; only inputs declared distinct (scored positions) use ScatterND.
        const ids64 = ids.type === 'int64' ? ids : this.raw('Cast', [ids], ids.shape, { attributes: { to: 7 }, type: 'int64' });
        if (ids.distinct) {
          const index = this.raw('Unsqueeze', [ids64, this.int64s([-1])], [...ids.shape, 1], { type: 'int64' });
          return [this.raw('ScatterND', [this.zerosLike(x), index, g], x.shape, { attributes: { reduction: 'add' } }), undefined];
        }
        const rest = x.shape.slice(1);
        const column = this.raw('Reshape', [ids64, this.int64s([-1, ...rest.map(() => 1)])], [-1, ...rest.map(() => 1)], {
          type: 'int64',
        });
        const rows = this.raw('Reshape', [g, this.int64s([-1, ...rest])], [-1, ...rest]);
        const index = this.raw('Expand', [column, this.shapeOf(rows)], rows.shape, { type: 'int64' });
        return [
          this.raw('ScatterElements', [this.zerosLike(x), index, rows], x.shape, { attributes: { axis: 0, reduction: 'add' } }),
          undefined,
        ];
      },
      { axis: 0 },
    );
  }

  gatherMatmul(table: Sym, ids: Sym, kernel: Sym): Sym {
    if (!this.constants.has(table.name) || !this.constants.has(kernel.name)) return this.matmul(this.gather(table, ids), kernel);
    // Both constant (a decoding graph): ONNX Runtime's constant folding turns table x kernel into one
    // initializer when the session loads, and each step only gathers its rows.
    const product = this.matmulRaw(table, kernel, { shape: [table.shape[0], kernel.shape[1]] });
    return this.raw('Gather', [product, ids], [...ids.shape, kernel.shape[1]], { attributes: { axis: 0 } });
  }

  lstmSequence(xProj: Sym, recurrent: Sym, timeSteps: number): Sym {
    return unrolledLstm(this, xProj, recurrent, timeSteps);
  }

  // ---- reverse mode ----

  /**
   * Gradients of sum_i <seed_i, of_i> with respect to `wrt` (trainable inputs), as graph values:
   * walks the tape backwards, summing the gradients that reach each value. Unreached inputs get zeros.
   */
  backward(seeds: { of: Sym; grad: Sym }[], wrt: Sym[]): Sym[] {
    const grads = new Map<string, Sym>();
    const accumulate = (x: Sym, g: Sym) => {
      const prev = grads.get(x.name);
      grads.set(x.name, prev ? this.raw('Add', [prev, g], x.shape) : g);
    };
    for (const s of seeds) accumulate(s.of, s.grad);
    for (let i = this.tape.length - 1; i >= 0; i--) {
      const entry = this.tape[i];
      const outGrads = entry.outputs.map((o) => grads.get(o.name));
      if (outGrads.every((g) => !g)) continue;
      const inGrads = entry.backward(outGrads);
      entry.inputs.forEach((x, k) => {
        const g = inGrads[k];
        if (g && x.trainable) accumulate(x, g);
      });
    }
    return wrt.map((w) => grads.get(w.name) ?? this.zerosLike(w));
  }
}
