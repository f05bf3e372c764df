// The decoder as ONNX init/step graphs (what `capgen export --format onnx` writes and ONNX Runtime
// decoding runs) against the same decoder on tfjs: the same state and log-probabilities, step by step.
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { mergeLstm } from '../../src/model/merge-lstm.js';
import { compareDecoding, randomWeights } from './compare.js';
import { buildDecoderGraphs } from '../../src/engine/onnx/decode-graphs.js';
import { GraphOps } from '../../src/engine/onnx/graph-ops.js';

describe.skipIf(SKIP_ORT)('decoder graphs for ONNX Runtime', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('merge-lstm: init + 6 steps give the tfjs log-probabilities (1e-5)', async () => {
    const sizes = { vocabSize: 11, embeddingSize: 4, hiddenSize: 5, featureSize: 6, dropout: 0.5 };
    const r = await compareDecoding(mergeLstm, sizes, { batch: 3, steps: 6, seed: 4 });
    expect(r.stateCount).toBe(3);
    expect(r.worst).toBeLessThan(1e-5);
  });

  it('gatherMatmul: with constant weights the step gathers rows of table x kernel (folded at load); with weight inputs it multiplies per row', () => {
    const sizes = { vocabSize: 11, embeddingSize: 4, hiddenSize: 5, featureSize: 6, dropout: 0.5 };
    const step = buildDecoderGraphs(mergeLstm, sizes, randomWeights(mergeLstm, sizes, 2)).step;
    const embedding = step.initializers.find((i) => i.dims.join() === '11,4');
    const product = step.nodes.find((n) => (n.op === 'Gemm' || n.op === 'MatMul') && n.inputs[0] === embedding?.name);
    expect(product, 'a product of the embedding table itself').toBeDefined();
    expect(step.nodes.some((n) => n.op === 'Gather' && n.inputs[0] === product?.outputs[0])).toBe(true);

    const g = new GraphOps();
    const table = g.input('table', [11, 4], { trainable: true });
    const kernel = g.input('kernel', [4, 20], { trainable: true });
    const y = g.gatherMatmul(table, g.input('ids', [-1], { type: 'int32' }), kernel);
    expect(y.shape).toEqual([-1, 20]);
    const matmul = g.nodes.find((n) => n.op === 'MatMul');
    expect(matmul?.inputs[0]).not.toBe('table'); // the gathered rows, not the whole table
    expect(g.nodes.find((n) => n.op === 'Gather')?.inputs[0]).toBe('table');
  });
});
