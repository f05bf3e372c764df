// The embedding gradient (Gather's backward in src/engine/onnx/graph-ops.ts) on more than one ONNX
// Runtime thread: the rows of repeated ids must all be added, every run the same. ScatterND 'add'
// (what it used before) races on 2 threads and loses updates; this test failed with it.
import { describe, expect, it } from 'vitest';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { GraphOps } from '../../src/engine/onnx/graph-ops.js';
import { encodeOnnxModel } from '../../src/features/onnx/proto.js';
import { SyncSession } from '../../src/engine/onnx/sync-session.js';
import { loadOnnxRuntime } from '../../src/features/onnx/runtime.js';

describe.skipIf(SKIP_ORT)('gather gradient on ONNX Runtime threads', () => {
  it('sums every row of a repeated id exactly (4 threads, 8 runs equal the host sum to 1e-4)', () => {
    const ort = loadOnnxRuntime()!;
    // A batch's worth of word positions over few distinct words: many updates per row to collide.
    const [vocab, width, positions, distinct] = [300, 256, 4000, 12];
    const g = new GraphOps();
    const table = g.input('table', [vocab, width], { trainable: true });
    const ids = g.input('ids', [positions], { type: 'int32' });
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

    const idValues = Int32Array.from({ length: positions }, (_, i) => ((i * i + 7 * i) % distinct) * 17);
    const seedValues = Float32Array.from({ length: positions * width }, (_, i) => Math.sin(i * 0.37));
    const expected = new Float64Array(vocab * width);
    for (let p = 0; p < positions; p++) for (let j = 0; j < width; j++) expected[idValues[p] * width + j] += seedValues[p * width + j];
    const feeds = {
      table: new ort.Tensor('float32', new Float32Array(vocab * width), [vocab, width]),
      ids: new ort.Tensor('int32', idValues, [positions]),
      seed: new ort.Tensor('float32', seedValues, [positions, width]),
    };
    for (let run = 0; run < 8; run++) {
      const out = session!.run(feeds).grad.data as Float32Array;
      let worst = 0;
      for (let k = 0; k < out.length; k++) worst = Math.max(worst, Math.abs(out[k] - expected[k]));
      expect(worst, `run ${run}: largest difference from the host sum`).toBeLessThan(1e-4);
    }
  });
});
