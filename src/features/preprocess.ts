// Pixel preprocessing modes, as Keras' imagenet_utils.preprocess_input names them.
import * as tf from '@tensorflow/tfjs';
import type { EncoderIdentity } from '../run/formats.js';

export const PREPROCESS_CHOICES: readonly EncoderIdentity['preprocess'][] = ['caffe', 'tf', 'torch', 'unit'];

/** ImageNet channel means in BGR order (Keras 'caffe' mode). */
const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68];
const TORCH_MEAN = [0.485, 0.456, 0.406];
const TORCH_STD = [0.229, 0.224, 0.225];

/**
 * [N, H, W, 3] RGB 0..255 -> [N, H, W, 3] network input.
 * caffe: RGB->BGR minus the BGR means, no scaling; tf: x/127.5 - 1; torch: x/255 minus mean over std; unit: x/255.
 */
export function preprocess(pixels: tf.Tensor4D, mode: EncoderIdentity['preprocess']): tf.Tensor4D {
  return tf.tidy(() => {
    const x = pixels.toFloat();
    switch (mode) {
      case 'caffe':
        return tf.sub(tf.reverse(x, -1), tf.tensor1d(CAFFE_MEAN_BGR)) as tf.Tensor4D;
      case 'tf':
        return tf.sub(tf.div(x, 127.5), 1) as tf.Tensor4D;
      case 'torch':
        return tf.div(tf.sub(tf.div(x, 255), tf.tensor1d(TORCH_MEAN)), tf.tensor1d(TORCH_STD)) as tf.Tensor4D;
      case 'unit':
        return tf.div(x, 255) as tf.Tensor4D;
    }
  });
}
