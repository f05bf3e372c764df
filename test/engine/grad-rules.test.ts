// Every reverse-mode rule of the ONNX training engine (src/engine/onnx/graph-ops.ts), one op at a time:
// a graph holding only that op, reduced to a scalar as sum(output x fixed random weights), runs its
// forward and backward pass in ONNX Runtime; the gradient must equal tfjs' autodiff of the same op
// (cpu backend) and central finite differences of the graph's own forward pass (loss summed in
// float64 on the host). The op list comes from the Ops interface as the tfjs engine implements it, so
// an op added there without a case here fails the coverage test.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { GraphOps, type Sym } from '../../src/engine/onnx/graph-ops.js';
import { TfjsOps } from '../../src/engine/tfjs-ops.js';
import { encodeOnnxModel } from '../../src/engine/onnx/proto.js';
import { loadOnnxRuntime, type OrtTensor } from '../../src/engine/onnx/runtime.js';
import type { Ops, Shape } from '../../src/model/ops.js';
import { mulberry32 } from '../../src/util/random.js';
import { SKIP_ORT } from '../features/onnx-helpers.js';

/** A float input (differentiated), or int ids (not): `distinct` ids are declared so to the graph (ScatterND path). */
type InputSpec =
  | { kind: 'float'; shape: number[]; /** Declared to the graph with these dims unknown (-1). */ dynamic?: number[]; positive?: boolean }
  | { kind: 'ids'; values: number[]; distinct?: boolean };

interface Case {
  name: string;
  /** The Ops method whose rule this exercises. */
  op: string;
  inputs: InputSpec[];
  run<T>(ops: Ops<T>, xs: T[]): T | T[];
}

const f = (shape: number[], extra: Partial<Extract<InputSpec, { kind: 'float' }>> = {}): InputSpec => ({ kind: 'float', shape, ...extra });

const CASES: Case[] = [
  { name: 'matmul 2-D', op: 'matmul', inputs: [f([3, 4]), f([4, 5])], run: (o, [a, b]) => o.matmul(a, b) },
  { name: 'matmul transposeB', op: 'matmul', inputs: [f([3, 4]), f([5, 4])], run: (o, [a, b]) => o.matmul(a, b, { transposeB: true }) },
  { name: 'matmul 3-D x shared 2-D', op: 'matmul', inputs: [f([2, 3, 4]), f([4, 5])], run: (o, [a, b]) => o.matmul(a, b) },
  { name: 'matmul batched', op: 'matmul', inputs: [f([2, 3, 4]), f([2, 4, 5])], run: (o, [a, b]) => o.matmul(a, b) },
  {
    name: 'matmul batched, transposeB',
    op: 'matmul',
    inputs: [f([2, 3, 4]), f([2, 5, 4])],
    run: (o, [a, b]) => o.matmul(a, b, { transposeB: true }),
  },
  { name: 'add same shape', op: 'add', inputs: [f([3, 4]), f([3, 4])], run: (o, [a, b]) => o.add(a, b) },
  { name: 'add broadcast bias', op: 'add', inputs: [f([2, 3, 4]), f([4])], run: (o, [a, b]) => o.add(a, b) },
  { name: 'add broadcast both', op: 'add', inputs: [f([3, 1]), f([1, 4])], run: (o, [a, b]) => o.add(a, b) },
  { name: 'sub broadcast', op: 'sub', inputs: [f([3, 4]), f([3, 1])], run: (o, [a, b]) => o.sub(a, b) },
  { name: 'mul broadcast', op: 'mul', inputs: [f([2, 3, 4]), f([3, 1])], run: (o, [a, b]) => o.mul(a, b) },
  { name: 'mul same input twice', op: 'mul', inputs: [f([3, 4])], run: (o, [a]) => o.mul(a, a) },
  { name: 'scale', op: 'scale', inputs: [f([3, 4])], run: (o, [a]) => o.scale(a, -1.7) },
  { name: 'sigmoid', op: 'sigmoid', inputs: [f([3, 4])], run: (o, [a]) => o.sigmoid(a) },
  { name: 'tanh', op: 'tanh', inputs: [f([3, 4])], run: (o, [a]) => o.tanh(a) },
  { name: 'relu', op: 'relu', inputs: [f([3, 4])], run: (o, [a]) => o.relu(a) },
  { name: 'exp', op: 'exp', inputs: [f([3, 4])], run: (o, [a]) => o.exp(a) },
  { name: 'sqrt', op: 'sqrt', inputs: [f([3, 4], { positive: true })], run: (o, [a]) => o.sqrt(a) },
  { name: 'reciprocal', op: 'reciprocal', inputs: [f([3, 4], { positive: true })], run: (o, [a]) => o.reciprocal(a) },
  { name: 'softmax', op: 'softmax', inputs: [f([2, 3, 5])], run: (o, [a]) => o.softmax(a) },
  { name: 'logSoftmax', op: 'logSoftmax', inputs: [f([3, 5])], run: (o, [a]) => o.logSoftmax(a) },
  { name: 'sum one axis', op: 'sum', inputs: [f([2, 3, 4])], run: (o, [a]) => o.sum(a, [1]) },
  { name: 'sum axes, keepDims', op: 'sum', inputs: [f([2, 3, 4])], run: (o, [a]) => o.sum(a, [0, -1], true) },
  { name: 'mean static', op: 'mean', inputs: [f([2, 3, 4])], run: (o, [a]) => o.mean(a, [2], true) },
  {
    name: 'mean over a dimension known at run time',
    op: 'mean',
    inputs: [f([2, 3, 4], { dynamic: [1] })],
    run: (o, [a]) => o.mean(a, [1]),
  },
  { name: 'reshape', op: 'reshape', inputs: [f([2, 3, 4])], run: (o, [a]) => o.reshape(a, [6, -1]) },
  { name: 'transpose', op: 'transpose', inputs: [f([2, 3, 4])], run: (o, [a]) => o.transpose(a, [2, 0, 1]) },
  { name: 'concat', op: 'concat', inputs: [f([2, 3]), f([2, 1]), f([2, 2])], run: (o, xs) => o.concat(xs, 1) },
  { name: 'split, every piece used', op: 'split', inputs: [f([5, 3])], run: (o, [a]) => o.split(a, [2, 1, 2], 0) },
  // Only the middle piece reaches the loss: the other pieces' gradients are zeros the rule must make.
  { name: 'split, one piece used', op: 'split', inputs: [f([3, 6])], run: (o, [a]) => o.split(a, [2, 3, 1], 1)[1] },
  {
    name: 'gather, repeated ids',
    op: 'gather',
    inputs: [f([5, 3]), { kind: 'ids', values: [4, 0, 4, 2, 4, 0] }],
    run: (o, [x, ids]) => o.gather(x, ids),
  },
  {
    name: 'gather, distinct ids',
    op: 'gather',
    inputs: [f([6, 2]), { kind: 'ids', values: [5, 1, 3], distinct: true }],
    run: (o, [x, ids]) => o.gather(x, ids),
  },
  {
    name: 'gatherMatmul',
    op: 'gatherMatmul',
    inputs: [f([5, 3]), { kind: 'ids', values: [1, 4, 1, 0] }, f([3, 2])],
    run: (o, [table, ids, kernel]) => o.gatherMatmul(table, ids, kernel),
  },
  // 3 time steps of 2 captions, hidden 2: gates [6, 8], recurrent [2, 8].
  { name: 'lstmSequence', op: 'lstmSequence', inputs: [f([6, 8]), f([2, 8])], run: (o, [x, r]) => o.lstmSequence(x, r, 3) },
];

/** Ops with no gradient to test: they read a shape or make a constant. */
const NO_RULE = ['shape', 'constant'];

/** Random inputs away from 0 (relu's kink) with either sign (or positive where asked). */
function inputValues(spec: InputSpec, rand: () => number): Float32Array | Int32Array {
  if (spec.kind === 'ids') return Int32Array.from(spec.values);
  const n = spec.shape.reduce((a, d) => a * d, 1);
  return Float32Array.from({ length: n }, () => {
    const magnitude = 0.2 + 0.8 * rand();
    return spec.positive || rand() < 0.5 ? magnitude : -magnitude;
  });
}

interface Prepared {
  values: (Float32Array | Int32Array)[];
  /** Output shapes (from tfjs) and the fixed weights that reduce each output to the scalar loss. */
  outShapes: Shape[];
  weights: Float32Array[];
}

function prepare(c: Case, seed: number): Prepared {
  const rand = mulberry32(seed);
  const values = c.inputs.map((s) => inputValues(s, rand));
  const outShapes = tf.tidy(() => {
    const ops = new TfjsOps({ fused: false });
    const outs = [c.run(ops, tfInputs(c, values))].flat();
    return outs.map((o) => o.shape);
  });
  const weights = outShapes.map((s) => Float32Array.from({ length: s.reduce((a, d) => a * d, 1) }, () => rand() * 2 - 1));
  return { values, outShapes, weights };
}

function tfInputs(c: Case, values: (Float32Array | Int32Array)[]): tf.Tensor[] {
  return c.inputs.map((s, i) =>
    s.kind === 'ids' ? tf.tensor1d(values[i] as Int32Array, 'int32') : tf.tensor(values[i], s.shape, 'float32'),
  );
}

/** tfjs autodiff of sum_k <weights_k, out_k> with respect to the float inputs. */
function tfjsGradients(c: Case, p: Prepared): Float32Array[] {
  return tf.tidy(() => {
    const all = tfInputs(c, p.values);
    const floats = c.inputs.map((s, i) => (s.kind === 'float' ? i : -1)).filter((i) => i >= 0);
    const loss = (...xs: tf.Tensor[]) => {
      const args = [...all];
      floats.forEach((i, k) => (args[i] = xs[k]));
      const outs = [c.run(new TfjsOps({ fused: false }), args)].flat();
      return outs.map((o, k) => tf.sum(tf.mul(o, tf.tensor(p.weights[k], o.shape)))).reduce((a, b) => tf.add(a, b)) as tf.Scalar;
    };
    return tf
      .grads(loss)(floats.map((i) => all[i]))
      .map((g) => g.dataSync() as Float32Array);
  });
}

/** The op alone in a graph, plus its backward pass seeded with the weights: outputs y<k> and grad<i>. */
function opGraph(c: Case, p: Prepared) {
  const g = new GraphOps();
  const xs: Sym[] = c.inputs.map((s, i) =>
    s.kind === 'ids'
      ? g.input(`x${i}`, [s.values.length], { type: 'int32', distinct: s.distinct })
      : g.input(
          `x${i}`,
          s.shape.map((d, j) => (s.dynamic?.includes(j) ? -1 : d)),
          { trainable: true },
        ),
  );
  const outs = [c.run(g, xs)].flat();
  outs.forEach((o, k) => g.output(`y${k}`, o));
  const floats = xs.filter((_, i) => c.inputs[i].kind === 'float');
  const grads = g.backward(
    outs.map((o, k) => ({ of: o, grad: g.constant(p.weights[k], p.outShapes[k]) })),
    floats,
  );
  grads.forEach((gr, i) => g.output(`grad${i}`, gr));
  return encodeOnnxModel({
    opset: 18,
    graphName: c.name,
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: g.inputs,
    outputs: g.outputs,
  });
}

async function onnxGradients(c: Case, p: Prepared) {
  const ort = loadOnnxRuntime();
  if (!ort) throw new Error('onnxruntime-node is missing');
  const session = await ort.InferenceSession.create(opGraph(c, p), { intraOpNumThreads: 1 });
  const feeds = (values: (Float32Array | Int32Array)[]) => {
    const r: Record<string, OrtTensor> = {};
    c.inputs.forEach((s, i) => {
      r[`x${i}`] =
        s.kind === 'ids'
          ? new ort.Tensor('int32', values[i] as Int32Array, [s.values.length])
          : new ort.Tensor('float32', values[i] as Float32Array, s.shape);
    });
    return r;
  };
  const lossOf = async (values: (Float32Array | Int32Array)[]) => {
    const out = await session.run(feeds(values));
    let loss = 0;
    p.weights.forEach((w, k) => {
      const y = out[`y${k}`].data as Float32Array;
      for (let j = 0; j < w.length; j++) loss += w[j] * y[j];
    });
    return { loss, out };
  };
  try {
    const { out } = await lossOf(p.values);
    const floats = c.inputs.map((s, i) => (s.kind === 'float' ? i : -1)).filter((i) => i >= 0);
    const analytic = floats.map((_, k) => Float32Array.from(out[`grad${k}`].data as Float32Array));
    // Central differences of the graph's own forward pass, every element of every float input.
    const step = 1e-2;
    const numeric: Float64Array[] = [];
    for (const i of floats) {
      const x = p.values[i] as Float32Array;
      const d = new Float64Array(x.length);
      for (let j = 0; j < x.length; j++) {
        const at = (delta: number) => {
          const moved = Float32Array.from(x);
          moved[j] += delta;
          return p.values.map((v, k) => (k === i ? moved : v));
        };
        const plus = (await lossOf(at(step))).loss;
        const minus = (await lossOf(at(-step))).loss;
        d[j] = (plus - minus) / (2 * step);
      }
      numeric.push(d);
    }
    return { analytic, numeric };
  } finally {
    await session.release();
  }
}

/** Largest |a - b| relative to max(1, largest |b|). */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  let scale = 1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst / scale;
}

describe('ONNX gradient rules: coverage', () => {
  it('every op of the Ops interface has a gradient case here (or is declared to have no rule)', () => {
    const ops = Object.getOwnPropertyNames(TfjsOps.prototype).filter((n) => n !== 'constructor');
    expect(ops.length).toBeGreaterThan(20);
    const covered = new Set(CASES.map((c) => c.op));
    expect(ops.filter((op) => !covered.has(op) && !NO_RULE.includes(op))).toEqual([]);
    // ...and the graph engine implements each of them.
    for (const op of ops) expect(typeof (GraphOps.prototype as unknown as Record<string, unknown>)[op], op).toBe('function');
  });
});

describe.skipIf(SKIP_ORT)('ONNX gradient rules, one op at a time', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s: equals tfjs autodiff (1e-5) and finite differences', async (_, c, i) => {
    const p = prepare(c, 100 + i);
    const reference = tfjsGradients(c, p);
    const { analytic, numeric } = await onnxGradients(c, p);
    expect(analytic.length).toBe(reference.length);
    analytic.forEach((a, k) => {
      expect(a.length, `input ${k} size`).toBe(reference[k].length);
      expect(relativeError(a, reference[k]), `input ${k} vs tfjs`).toBeLessThan(1e-5);
      // Truncation (step^2 x third derivative) and float32 rounding of the forward pass bound this.
      expect(relativeError(a, numeric[k]), `input ${k} vs finite differences`).toBeLessThan(2e-3);
      expect(
        a.some((x) => x !== 0),
        `input ${k} gets a gradient`,
      ).toBe(true);
    });
  });
});
