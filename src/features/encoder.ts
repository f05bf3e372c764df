// The image encoder contract: raw RGB pixels in, feature tensor out. Every encoder (ResNet50, any
// tfjs layers model cut at a layer, the demo's seeded CNN) implements it and records its identity.
import type * as tf from '@tensorflow/tfjs';
import type { EncoderIdentity } from '../run/formats.js';

export interface Encoder {
  readonly identity: EncoderIdentity;
  /**
   * [N, H, W, 3] float32 RGB in 0..255 (already resized to identity.inputSize) ->
   * [N, ...identity.featureShape]. Applies the encoder's own preprocessing and pooling.
   * Synchronous tensor work: callers wrap it in tf.tidy.
   */
  embed(pixels: tf.Tensor4D): tf.Tensor;
  dispose(): void;
}

/**
 * An encoder that runs outside TensorFlow.js (the ONNX Runtime engine): asynchronous, on decoded
 * pixels. Same identity, same features (to float rounding) as the tfjs encoder it stands for.
 */
export interface BatchEncoder {
  readonly identity: EncoderIdentity;
  /** Decoded images ([h, w, 3] uint8 each, h x w = identity.inputSize) -> feature rows, flattened [n * dim]. */
  embedBatch(pixels: Uint8Array[]): Promise<Float32Array>;
  dispose(): Promise<void>;
}
