// Configuration of image-feature extraction (the second half of `capgen prepare`).
import type { EngineChoice } from '../engine/choices.js';
import type { EncoderIdentity } from '../run/formats.js';

export interface FeaturesConfig {
  /** 'resnet50' (Keras ResNet50), 'densenet201' / 'vgg16' / 'inceptionv3' (Keras Applications), 'seeded-cnn' (the demo's offline encoder), a path to a tfjs
   *  layers model.json, or 'none' to skip features. */
  encoder: string;
  /** tfjs-layers encoders: the layer whose output is the feature (default: the model's output). */
  encoderLayer?: string;
  /** tfjs-layers encoders: pixel preprocessing (ResNet50 is always 'caffe', as in Keras). */
  preprocess?: EncoderIdentity['preprocess'];
  /** resnet50, densenet201, vgg16, inceptionv3: path to the Keras .h5 weights, or 'random' (only when asked for). Default: the cache. */
  weights?: string;
  /** Seed for 'random' / 'seeded-cnn' weights. */
  seed: number;
  pooling: EncoderIdentity['pooling'];
  resize: EncoderIdentity['resize'];
  batchSize: number;
  dtype: 'float32' | 'float16';
  /** Worker threads that run the encoder in parallel (WASM is single-threaded per worker). */
  workers?: number;
  /** What runs the encoder: tfjs, onnx (ONNX Runtime, optional package) or auto (onnx when it can). */
  engine?: EngineChoice;
}

export const DEFAULT_FEATURES_CONFIG: FeaturesConfig = {
  encoder: 'resnet50', // the Keras project's encoder: ResNet50(weights='imagenet', include_top=False)
  seed: 1, // only used by generated weights; fixed so runs repeat
  pooling: 'avg', // the 2048-d vector the merge decoder expects; 'none' keeps 7x7 maps for attention
  resize: 'squash', // what Keras load_img(target_size=...) does
  batchSize: 16, // big enough to amortise per-call overhead, small enough to stay ~1 GB on ResNet50
  dtype: 'float32', // exact; float16 halves the cache for large datasets
  engine: 'auto', // ONNX Runtime where installed (several times faster on CPU, same features), else tfjs
};
