// Moving float32 tensor values between the backend and plain JS without fresh allocations. On WASM,
// dataSync() copies into a new ArrayBuffer each time; for the [words, vocab] logits and gradients of
// a training step that is megabytes of freshly mapped memory per call, and the page faults
// cost more than the output layer's matmul. Here values are read and written in place in the WASM
// heap; other backends get dataSync() and a fresh array.
import * as tf from '@tensorflow/tfjs';

interface HeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

function heapBackend(): HeapBackend | undefined {
  const b = tf.backend() as unknown as Partial<HeapBackend>;
  return tf.getBackend() === 'wasm' && typeof b.makeOutput === 'function' && typeof b.typedArrayFromHeap === 'function'
    ? (b as HeapBackend)
    : undefined;
}

/**
 * Runs `fn` on the values of float32 `inputs` and fills new float32 tensors of `outputShapes`.
 * The arrays are views of backend memory, valid only inside `fn` (which must run no tensor ops);
 * `fn` must write every element of each output. Returns the output tensors.
 */
export function withFloatViews(
  inputs: tf.Tensor[],
  outputShapes: number[][],
  fn: (ins: Float32Array[], outs: Float32Array[]) => void,
): tf.Tensor[] {
  for (const t of inputs) if (t.dtype !== 'float32') throw new Error(`withFloatViews: ${t.dtype} input, float32 expected`);
  const heap = heapBackend();
  if (!heap) {
    const outs = outputShapes.map((s) => new Float32Array(tf.util.sizeFromShape(s)));
    fn(
      inputs.map((t) => t.dataSync() as Float32Array),
      outs,
    );
    return outs.map((o, i) => tf.tensor(o, outputShapes[i], 'float32'));
  }
  // Allocate first: growing WASM memory would detach views taken earlier.
  const infos = outputShapes.map((s) => heap.makeOutput(s, 'float32'));
  fn(
    inputs.map((t) => heap.typedArrayFromHeap(t)),
    infos.map((info) => heap.typedArrayFromHeap(info)),
  );
  return infos.map((info) => tf.engine().makeTensorFromTensorInfo(info));
}

/** Copies a float32 tensor's values into `target` (no allocation on WASM). */
export function readInto(t: tf.Tensor, target: Float32Array): void {
  withFloatViews([t], [], ([values]) => target.set(values));
}

/** A new float32 tensor holding a copy of `values` (later changes to `values` never reach it). */
export function tensorFromHost(values: Float32Array, shape: number[]): tf.Tensor {
  if (!heapBackend()) return tf.tensor(values.slice(), shape, 'float32');
  const [t] = withFloatViews([], [shape], (_, [out]) => out.set(values));
  return t;
}
