// Shared by the onnx-*.test.ts files: whether onnxruntime-node is installed (they skip without it),
// and the largest absolute difference of two feature arrays.
import { loadOnnxRuntime, onnxUnavailableReason } from '../../src/features/onnx/runtime.js';

export const HAS_ORT = loadOnnxRuntime() !== undefined;
if (!HAS_ORT) process.stderr.write(`note: ONNX Runtime tests skipped (${onnxUnavailableReason()}); npm ci installs the optional onnxruntime-node\n`);

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
