// Shared by the onnx-*.test.ts files: whether onnxruntime-node is missing (they skip without it, or fail on CI),
// and the largest absolute difference of two feature arrays.
import { loadOnnxRuntime, onnxUnavailableReason } from '../../src/engine/onnx/runtime.js';
import { skipWithout } from '../helpers.js';

/** True where onnxruntime-node is missing and the caller's tests skip (with CI set: a failing test instead). */
export const SKIP_ORT = skipWithout(
  loadOnnxRuntime() !== undefined,
  'onnxruntime-node',
  `${onnxUnavailableReason()}; npm ci installs the optional onnxruntime-node`,
);

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** A deterministic pseudo-image batch: n images of [h, w, 3] uint8. */
export function testImages(n: number, h: number, w: number): Uint8Array[] {
  return Array.from({ length: n }, (_, k) => Uint8Array.from({ length: h * w * 3 }, (_, i) => (i * 37 + k * 101 + (i >> 7) * 13) % 256));
}
