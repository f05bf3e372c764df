// Kernel fixes for TensorFlow.js 4.22's WASM and pure-JS backends, registered once by initBackend:
// - WASM has no UnsortedSegmentSum (the gradient of tf.gather, i.e. of every Embedding lookup);
// - the cpu backend's UnsortedSegmentSum loops over every segment id (O(vocab x rows) memory/time);
// - WASM BatchMatMul takes its fast XNNPACK path only when no operand is transposed, and every
//   Dense/LSTM weight gradient transposes one: transpose explicitly (cheap), then multiply fast.
import * as tf from '@tensorflow/tfjs';

type KernelFunc = tf.KernelConfig['kernelFunc'];
interface BackendLike {
  readSync(dataId: object): tf.backend_util.BackendValues;
  disposeData(dataId: object): boolean;
}
interface WasmBackendLike extends BackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
}
interface CpuBackendLike extends BackendLike {
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
}

/**
 * out[segmentIds[i], ...] += x[i, ...], for segment ids in [0, numSegments); others are dropped,
 * as TensorFlow does. segmentIds may have any rank r: x's first r dims are flattened into rows.
 */
export function segmentSumInto(
  out: Float32Array | Int32Array,
  x: ArrayLike<number>,
  segmentIds: ArrayLike<number>,
  numSegments: number,
): void {
  const rows = segmentIds.length;
  const width = rows === 0 ? 0 : x.length / rows;
  for (let i = 0; i < rows; i++) {
    const s = segmentIds[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * width;
    const dst = s * width;
    for (let j = 0; j < width; j++) out[dst + j] += x[src + j];
  }
}

function outputShape(x: tf.TensorInfo, segmentIds: tf.TensorInfo, numSegments: number): number[] {
  return [numSegments, ...x.shape.slice(segmentIds.shape.length)];
}

const wasmSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as unknown as WasmBackendLike;
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  const out = b.makeOutput(outputShape(x, segmentIds, numSegments), x.dtype);
  const values = b.typedArrayFromHeap(out) as Float32Array | Int32Array;
  values.fill(0);
  segmentSumInto(values, b.readSync(x.dataId) as Float32Array, b.readSync(segmentIds.dataId) as Int32Array, numSegments);
  return out;
};

const cpuSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as unknown as CpuBackendLike;
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  const shape = outputShape(x, segmentIds, numSegments);
  const size = shape.reduce((a, d) => a * d, 1);
  const values = x.dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
  segmentSumInto(values, b.readSync(x.dataId) as Float32Array, b.readSync(segmentIds.dataId) as Int32Array, numSegments);
  return b.makeTensorInfo(shape, x.dtype, values);
};

function transposeLastTwo(kernel: KernelFunc, t: tf.TensorInfo, backend: object): tf.TensorInfo {
  const perm = t.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return kernel({ inputs: { x: t }, backend: backend as never, attrs: { perm } }) as tf.TensorInfo;
}

function fastBatchMatMul(original: KernelFunc, transpose: KernelFunc): KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const attrs = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (!attrs.transposeA && !attrs.transposeB) return original(args);
    const backend = args.backend as unknown as BackendLike;
    const aT = attrs.transposeA ? transposeLastTwo(transpose, a, backend) : a;
    const bT = attrs.transposeB ? transposeLastTwo(transpose, b, backend) : b;
    try {
      return original({ ...args, inputs: { a: aT, b: bT }, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
    } finally {
      if (aT !== a) backend.disposeData(aT.dataId);
      if (bT !== b) backend.disposeData(bT.dataId);
    }
  };
}

function replaceKernel(kernelName: string, backendName: string, kernelFunc: KernelFunc): void {
  if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({ kernelName, backendName, kernelFunc });
}

const patched = new Set<string>();

/** Idempotent; a no-op for the native backends, whose kernels are fine. */
export function registerKernelFixes(backendName: string): void {
  if (patched.has(backendName)) return;
  if (backendName === 'wasm') {
    replaceKernel('UnsortedSegmentSum', 'wasm', wasmSegmentSum);
    const matmul = tf.getKernel('BatchMatMul', 'wasm');
    const transpose = tf.getKernel('Transpose', 'wasm');
    if (matmul && transpose) replaceKernel('BatchMatMul', 'wasm', fastBatchMatMul(matmul.kernelFunc, transpose.kernelFunc));
  } else if (backendName === 'cpu') {
    replaceKernel('UnsortedSegmentSum', 'cpu', cpuSegmentSum);
  }
  patched.add(backendName);
}
