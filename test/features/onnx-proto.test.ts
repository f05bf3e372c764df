// The ONNX protobuf writer: byte-level encoding checked by hand, and a small graph built with every
// attribute kind it writes, run by ONNX Runtime against a plain-array computation, at two batch sizes.
import { describe, expect, it } from 'vitest';
import { createOnnxSession } from '../../src/engine/onnx/runtime.js';
import { encodeOnnxModel, type OnnxModel } from '../../src/engine/onnx/proto.js';
import { SKIP_ORT, maxAbsDiff } from './onnx-helpers.js';

describe('encodeOnnxModel bytes', () => {
  it('writes protobuf fields as the wire format defines them', () => {
    const bytes = encodeOnnxModel({ opset: 13, graphName: 'g', nodes: [], initializers: [], inputs: [], outputs: [] });
    // ir_version (field 1, varint) = 7; producer_name (field 2, bytes) = 'capgen'
    expect([...bytes.subarray(0, 10)]).toEqual([0x08, 7, 0x12, 6, ...Buffer.from('capgen').subarray(0, 6)]);
    // graph (field 7) holding only name (field 2) 'g'; then opset_import (field 8): domain '' + version 13
    expect([...bytes.subarray(10)]).toEqual([0x3a, 3, 0x12, 1, 0x67, 0x42, 4, 0x0a, 0, 0x10, 13]);
  });

  it('writes multi-byte varints and negative int64 as protobuf does', () => {
    const model: OnnxModel = {
      opset: 300,
      graphName: '',
      nodes: [{ op: 'X', inputs: [], outputs: [], attributes: { a: -1 } }],
      initializers: [],
      inputs: [],
      outputs: [],
    };
    const bytes = [...encodeOnnxModel(model)];
    const tail = bytes.slice(-3); // version 300 = 0xac 0x02
    expect(tail).toEqual([0x10, 0xac, 0x02]);
    // attribute i = -1: ten bytes 0xff x9 then 0x01 after the key 0x18
    const at = bytes.indexOf(0x18);
    expect(bytes.slice(at, at + 11)).toEqual([0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });
});

/** Plain arrays: x [n, 2, 3, 3] NCHW, w [2, 2, 2, 2], 'valid' conv stride 1 + bias, LeakyRelu, flatten, matmul [8, 3]. */
function reference(x: Float32Array, n: number, w: Float32Array, bias: number[], alpha: number, m: Float32Array): Float32Array {
  const out = new Float32Array(n * 3);
  for (let b = 0; b < n; b++) {
    const flat: number[] = [];
    for (let o = 0; o < 2; o++)
      for (let y = 0; y < 2; y++)
        for (let xx = 0; xx < 2; xx++) {
          let s = bias[o];
          for (let i = 0; i < 2; i++)
            for (let ky = 0; ky < 2; ky++)
              for (let kx = 0; kx < 2; kx++) s += x[((b * 2 + i) * 3 + y + ky) * 3 + xx + kx] * w[((o * 2 + i) * 2 + ky) * 2 + kx];
          flat.push(s >= 0 ? s : alpha * s);
        }
    for (let j = 0; j < 3; j++) out[b * 3 + j] = flat.reduce((acc, v, k) => acc + v * m[k * 3 + j], 0);
  }
  return out;
}

describe.skipIf(SKIP_ORT)('encodeOnnxModel + ONNX Runtime', () => {
  it('runs a hand-built Conv/LeakyRelu/Flatten/Reshape/MatMul graph with a symbolic batch', async () => {
    const w = Float32Array.from({ length: 16 }, (_, i) => ((i * 7) % 11) / 10 - 0.5);
    const m = Float32Array.from({ length: 24 }, (_, i) => ((i * 5) % 13) / 13 - 0.4);
    const bias = [0.25, -0.5];
    const alpha = 0.2;
    const model: OnnxModel = {
      opset: 13,
      graphName: 'tiny',
      nodes: [
        { op: 'Pad', inputs: ['x', 'nopad'], outputs: ['p'], attributes: { mode: 'constant' } }, // string attribute
        { op: 'Conv', inputs: ['p', 'w', 'b'], outputs: ['c'], attributes: { kernel_shape: [2, 2], strides: [1, 1], pads: [0, 0, 0, 0] } },
        { op: 'LeakyRelu', inputs: ['c'], outputs: ['r'], attributes: { alpha: { float: alpha } } },
        { op: 'Flatten', inputs: ['r'], outputs: ['f'], attributes: { axis: 1 } },
        { op: 'Reshape', inputs: ['f', 'shape'], outputs: ['f2'] },
        { op: 'MatMul', inputs: ['f2', 'm'], outputs: ['y'] },
      ],
      initializers: [
        { name: 'w', dims: [2, 2, 2, 2], data: w },
        { name: 'b', dims: [2], data: Float32Array.from(bias) },
        { name: 'm', dims: [8, 3], data: m },
        { name: 'nopad', dims: [8], data: new BigInt64Array(8) },
        { name: 'shape', dims: [2], data: BigInt64Array.from([-1n, 8n]) },
      ],
      inputs: [{ name: 'x', shape: ['n', 2, 3, 3] }],
      outputs: [{ name: 'y', shape: ['n', 3] }],
    };
    const { session, ort } = await createOnnxSession(encodeOnnxModel(model), { threads: 1 });
    try {
      for (const n of [1, 3]) {
        const x = Float32Array.from({ length: n * 18 }, (_, i) => Math.sin(i * 1.7) * 2);
        const out = (await session.run({ x: new ort.Tensor('float32', x, [n, 2, 3, 3]) })).y;
        expect(out.dims).toEqual([n, 3]);
        expect(maxAbsDiff(out.data as Float32Array, reference(x, n, w, bias, alpha, m))).toBeLessThan(1e-5);
      }
    } finally {
      await session.release();
    }
  });
});
