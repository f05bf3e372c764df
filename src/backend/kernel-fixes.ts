// Kernel fixes for TensorFlow.js 4.22's WASM and pure-JS backends, registered once by initBackend:
// - WASM has no UnsortedSegmentSum (the gradient of tf.gather, i.e. of every Embedding lookup);
// - the cpu backend's UnsortedSegmentSum loops over every segment id (O(vocab x rows) memory/time);
// - WASM BatchMatMul takes its fast XNNPACK path only when no operand is transposed, and every
//   Dense/LSTM weight gradient transposes one: transpose explicitly (cheap), then multiply fast;
// - WASM GatherV2 along axis 0 (every Embedding lookup, every gather of rows) copies element by
//   element; copying whole rows is much faster;
// - WASM Sum over axis 0 of a matrix (every Dense bias gradient) transposes the matrix first:
//   adding rows into one accumulator row skips the transpose.
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
  // Views of the heap, taken after the allocation (which may grow and move it).
  const values = b.typedArrayFromHeap(out) as Float32Array | Int32Array;
  values.fill(0);
  segmentSumInto(values, b.typedArrayFromHeap(x) as Float32Array, b.typedArrayFromHeap(segmentIds) as Int32Array, numSegments);
  return out;
};

/** out[i, ...] = x[indices[i], ...] (rows of x); false when an index is out of range. */
export function gatherRowsInto(
  out: Float32Array | Int32Array,
  x: Float32Array | Int32Array,
  indices: ArrayLike<number>,
  rowSize: number,
  rows: number,
): boolean {
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    if (!(r >= 0 && r < rows)) return false;
    out.set(x.subarray(r * rowSize, (r + 1) * rowSize), i * rowSize);
  }
  return true;
}

function fastGather(original: KernelFunc): KernelFunc {
  return (args) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
    const rank = x.shape.length;
    if (
      (axis !== 0 && axis !== -rank) ||
      batchDims !== 0 ||
      rank === 0 ||
      x.dtype === 'string' ||
      x.dtype === 'bool' ||
      indices.dtype !== 'int32'
    )
      return original(args);
    const b = args.backend as unknown as WasmBackendLike;
    const rowSize = x.shape.slice(1).reduce((p, d) => p * d, 1);
    const out = b.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    const ok = gatherRowsInto(
      b.typedArrayFromHeap(out) as Float32Array,
      b.typedArrayFromHeap(x) as Float32Array,
      b.typedArrayFromHeap(indices),
      rowSize,
      x.shape[0],
    );
    if (ok) return out;
    // Out-of-range ids: the stock kernel decides what happens, as without the fix.
    b.disposeData(out.dataId);
    return original(args);
  };
}

/** out[j] = sum_i x[i, j] for x [rows, cols], accumulated in float64. */
export function sumRowsInto(out: Float32Array, x: Float32Array, rows: number, cols: number): void {
  const acc = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) acc[j] += x[base + j];
  }
  out.set(acc);
}

function fastSum(original: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q);
    // Only reductions over leading axes (x seen as [rows, cols], summed over rows).
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (!leading || x.dtype !== 'float32') return original(args);
    const b = args.backend as unknown as WasmBackendLike;
    const rows = x.shape.slice(0, axes.length).reduce((p, d) => p * d, 1);
    const kept = x.shape.slice(axes.length);
    const cols = kept.reduce((p, d) => p * d, 1);
    const out = b.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
    sumRowsInto(b.typedArrayFromHeap(out) as Float32Array, b.typedArrayFromHeap(x) as Float32Array, rows, cols);
    return out;
  };
}

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
    const gather = tf.getKernel('GatherV2', 'wasm');
    if (gather) replaceKernel('GatherV2', 'wasm', fastGather(gather.kernelFunc));
    const sum = tf.getKernel('Sum', 'wasm');
    if (sum) replaceKernel('Sum', 'wasm', fastSum(sum.kernelFunc));
  } else if (backendName === 'cpu') {
    replaceKernel('UnsortedSegmentSum', 'cpu', cpuSegmentSum);
  }
  patched.add(backendName);
}
