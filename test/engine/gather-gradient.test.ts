// The gradient of Gather (src/engine/onnx/graph-ops.ts) on more than one ONNX Runtime thread: the
// rows of repeated ids (words) must all be added, every run the same. ScatterND 'add' (what it used
// for every gather before) races on 2+ threads and loses updates; the first test failed with it.
// Ids declared distinct (scored positions) keep the faster ScatterND, which cannot collide.
import { describe, expect, it } from 'vitest';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { GraphOps } from '../../src/engine/onnx/graph-ops.js';
import { encodeOnnxModel } from '../../src/engine/onnx/proto.js';
import { SyncSession } from '../../src/engine/onnx/sync-session.js';
import { loadOnnxRuntime } from '../../src/engine/onnx/runtime.js';

/** The gather gradient of `idValues` into a [vocab, width] table, on 4 threads: the graph's ops and 8 runs' worst error. */
function gatherGradient(idValues: Int32Array, opts: { vocab: number; width: number; distinct: boolean }) {
  const ort = loadOnnxRuntime()!;
  const { vocab, width } = opts;
  const positions = idValues.length;
  const g = new GraphOps();
  const table = g.input('table', [vocab, width], { trainable: true });
  const ids = g.input('ids', [positions], { type: 'int32', distinct: opts.distinct });
  const seed = g.input('seed', [positions, width]);
  const [grad] = g.backward([{ of: g.gather(table, ids), grad: seed }], [table]);
  g.output('grad', grad);
  const model = encodeOnnxModel({
    opset: 18,
    graphName: 'gather_grad',
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: g.inputs,
    outputs: g.outputs,
  });
  const session = SyncSession.open(model, { threads: 4 });
  expect(session, 'synchronous ONNX Runtime session').toBeDefined();
  const seedValues = Float32Array.from({ length: positions * width }, (_, i) => Math.sin(i * 0.37));
  const expected = new Float64Array(vocab * width);
  for (let p = 0; p < positions; p++) for (let j = 0; j < width; j++) expected[idValues[p] * width + j] += seedValues[p * width + j];
  const feeds = {
    table: new ort.Tensor('float32', new Float32Array(vocab * width), [vocab, width]),
    ids: new ort.Tensor('int32', idValues, [positions]),
    seed: new ort.Tensor('float32', seedValues, [positions, width]),
  };
  const errors: number[] = [];
  for (let run = 0; run < 8; run++) {
    const out = session!.run(feeds).grad.data as Float32Array;
    let worst = 0;
    for (let k = 0; k < out.length; k++) worst = Math.max(worst, Math.abs(out[k] - expected[k]));
    errors.push(worst);
  }
  return { ops: g.nodes.map((n) => n.op), errors };
}

describe.skipIf(SKIP_ORT)('gather gradient on ONNX Runtime threads', () => {
  it('sums every row of a repeated id exactly (4 threads, 8 runs equal the host sum to 1e-4)', () => {
    // A batch's worth of word positions over few distinct words: many updates per row to collide.
    const ids = Int32Array.from({ length: 4000 }, (_, i) => ((i * i + 7 * i) % 12) * 17);
    const r = gatherGradient(ids, { vocab: 300, width: 256, distinct: false });
    expect(r.ops).not.toContain('ScatterND');
    r.errors.forEach((e, run) => expect(e, `run ${run}: largest difference from the host sum`).toBeLessThan(1e-4));
  });

  it('ids declared distinct (scored positions) use ScatterND, exactly', () => {
    const ids = Int32Array.from({ length: 3000 }, (_, i) => (i * 7919) % 4000); // 7919 is prime to 4000: no repeats
    expect(new Set(ids).size).toBe(ids.length);
    const r = gatherGradient(ids, { vocab: 4000, width: 64, distinct: true });
    expect(r.ops).toContain('ScatterND');
    expect(r.ops).not.toContain('ScatterElements');
    r.errors.forEach((e, run) => expect(e, `run ${run}`).toBeLessThan(1e-6));
  });
});
