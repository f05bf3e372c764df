// The encoder registry: builds an encoder from prepare's flags (createEncoder) or rebuilds exactly the
// one recorded in a run or checkpoint (loadEncoder), and embeds image files or buffers with it.
import * as tf from '@tensorflow/tfjs';
import { CapgenError } from '../errors.js';
import type { EncoderIdentity } from '../run/formats.js';
import type { FeaturesConfig } from './config.js';
import type { BatchEncoder, Encoder } from './encoder.js';
import { decodeFailure, decodeImage, packPixels } from './image-load.js';
import { KERAS_APPS, isKerasApp, loadKerasApp } from './encoders/keras-apps.js';
import { createLayersEncoder, hashLayersWeights } from './encoders/layers-encoder.js';
import { loadResNet50 } from './encoders/resnet50/load.js';

export const ENCODER_CHOICES = ['resnet50', 'densenet201', 'vgg16', 'inceptionv3', 'seeded-cnn', 'path/to/model.json'] as const;

async function seededCnn(seed: number, inputSize?: [number, number], pooling?: 'avg' | 'none'): Promise<Encoder> {
  // Dynamic import: the demo's encoder lives in its own module (src/features/encoders/seeded-cnn.ts).
  const specifier = './encoders/seeded-cnn.js';
  const mod = (await import(specifier)) as {
    createSeededCnnEncoder(opts: { seed: number; inputSize?: [number, number]; pooling?: 'avg' | 'none' }): Encoder;
  };
  return mod.createSeededCnnEncoder({ seed, inputSize, pooling });
}

/** The encoder that `config` asks for (prepare). */
export async function createEncoder(config: FeaturesConfig): Promise<Encoder> {
  if (config.encoder === 'resnet50') {
    if (config.preprocess && config.preprocess !== 'caffe') {
      throw new CapgenError('USAGE', `ResNet50 uses Keras' caffe preprocessing, not '${config.preprocess}'`, {
        hint: 'drop --preprocess for resnet50',
      });
    }
    return loadResNet50({ weights: config.weights, seed: config.seed, pooling: config.pooling, resize: config.resize });
  }
  if (isKerasApp(config.encoder)) {
    const app = KERAS_APPS[config.encoder];
    if (config.preprocess && config.preprocess !== app.preprocess) {
      throw new CapgenError('USAGE', `${app.label} uses Keras' ${app.preprocess} preprocessing, not '${config.preprocess}'`, {
        hint: `drop --preprocess for ${app.name}`,
      });
    }
    return loadKerasApp({
      name: config.encoder,
      weights: config.weights,
      seed: config.seed,
      pooling: config.pooling,
      resize: config.resize,
    });
  }
  if (config.encoder === 'seeded-cnn') return seededCnn(config.seed, undefined, config.pooling);
  if (config.encoder.endsWith('.json')) {
    if (!config.preprocess) {
      throw new CapgenError('USAGE', `--preprocess is required with a tfjs model encoder`, {
        hint: 'caffe (BGR minus means), tf (x/127.5-1, e.g. MobileNet), torch, or unit (x/255)',
      });
    }
    return createLayersEncoder({
      modelJsonPath: config.encoder,
      layer: config.encoderLayer,
      preprocess: config.preprocess,
      pooling: config.pooling,
      resize: config.resize,
    });
  }
  throw new CapgenError('USAGE', `unknown encoder '${config.encoder}'`, { hint: `choose ${ENCODER_CHOICES.join(', ')}` });
}

/**
 * Rebuilds exactly the encoder recorded in `identity`; refuses when the weights found now differ
 * from the recorded hash. `weightsPath` overrides where to find them (a .h5 or a model.json).
 */
/** A Keras encoder's weights from its recorded hash: 'random:SEED[/wDIVISOR]' rebuilds generated ones, else the file. */
export function kerasWeightsOf(
  identity: EncoderIdentity,
  weightsPath: string | undefined,
): { weights: string | undefined; seed: number; widthDivisor?: number } {
  const random = identity.weightsHash.match(/^random:(\d+)(?:\/w(\d+))?$/);
  if (!random) return { weights: weightsPath, seed: 0 };
  return { weights: 'random', seed: Number(random[1]), widthDivisor: random[2] ? Number(random[2]) : undefined };
}

export async function loadEncoder(identity: EncoderIdentity, opts: { weightsPath?: string } = {}): Promise<Encoder> {
  let encoder: Encoder;
  if (identity.architecture === 'resnet50') {
    encoder = await loadResNet50({
      ...kerasWeightsOf(identity, opts.weightsPath),
      pooling: identity.pooling,
      resize: identity.resize,
      inputSize: identity.inputSize,
      expectedHash: identity.weightsHash,
    });
  } else if (isKerasApp(identity.architecture)) {
    encoder = await loadKerasApp({
      name: identity.architecture,
      ...kerasWeightsOf(identity, opts.weightsPath),
      pooling: identity.pooling,
      resize: identity.resize,
      inputSize: identity.inputSize,
      expectedHash: identity.weightsHash,
    });
  } else if (identity.architecture === 'seeded-cnn') {
    const seed = Number(identity.weightsHash.replace(/^seeded:/, ''));
    encoder = await seededCnn(seed, identity.inputSize, identity.pooling);
  } else if (identity.architecture === 'tfjs-layers') {
    const modelJsonPath = opts.weightsPath ?? identity.source;
    if (!modelJsonPath)
      throw new CapgenError('NOT_FOUND', 'the recorded encoder does not say where its model.json is', { hint: 'pass the model.json path' });
    const hash = await hashLayersWeights(modelJsonPath);
    if (hash !== identity.weightsHash) {
      throw new CapgenError(
        'MISMATCH',
        `the weights of this model are not the ones the features were made with (sha256 ${hash.slice(0, 12)}... vs ${identity.weightsHash.slice(0, 12)}...)`,
        {
          file: modelJsonPath,
        },
      );
    }
    encoder = await createLayersEncoder({
      modelJsonPath,
      layer: identity.layer,
      preprocess: identity.preprocess,
      pooling: identity.pooling,
      resize: identity.resize,
      weightsHash: hash,
    });
  } else {
    throw new CapgenError('MISMATCH', `unknown encoder architecture '${identity.architecture}' recorded`, {
      hint: 'was it made by a newer capgen?',
    });
  }
  const got = JSON.stringify(encoder.identity.featureShape);
  if (got !== JSON.stringify(identity.featureShape)) {
    encoder.dispose();
    throw new CapgenError(
      'MISMATCH',
      `the rebuilt encoder gives features of shape ${got}, the record says ${JSON.stringify(identity.featureShape)}`,
    );
  }
  return encoder;
}

/** Runs the encoder on decoded pixels: [N*H*W*3] uint8 -> N flattened feature rows. */
export function embedPixels(encoder: Encoder, pixels: Uint8Array[], size: [number, number]): Float32Array {
  const [h, w] = size;
  const batch = packPixels(pixels, size, (n) => new Float32Array(n));
  const out = tf.tidy(() => encoder.embed(tf.tensor4d(batch, [pixels.length, h, w, 3])));
  try {
    return out.dataSync() as Float32Array;
  } finally {
    out.dispose();
  }
}

/** Either engine's encoder (tfjs Encoder, ONNX Runtime BatchEncoder) on decoded pixels -> feature rows. */
async function embedDecoded(encoder: Encoder | BatchEncoder, pixels: Uint8Array[]): Promise<Float32Array> {
  return 'embedBatch' in encoder ? encoder.embedBatch(pixels) : embedPixels(encoder, pixels, encoder.identity.inputSize);
}

/** Features of image files, batch by batch; unreadable files are listed, not thrown. */
export async function embedImageFiles(
  encoder: Encoder | BatchEncoder,
  paths: string[],
  opts: { batchSize?: number } = {},
): Promise<{ features: Map<string, Float32Array>; failed: { path: string; reason: string }[] }> {
  const batchSize = opts.batchSize ?? 16; // as prepare's default
  const size = encoder.identity.inputSize;
  const dim = encoder.identity.featureShape.reduce((a, b) => a * b, 1);
  const features = new Map<string, Float32Array>();
  const failed: { path: string; reason: string }[] = [];
  for (let start = 0; start < paths.length; start += batchSize) {
    const chunk = paths.slice(start, start + batchSize);
    const decoded = await Promise.allSettled(chunk.map((p) => decodeImage(p, { size, resize: encoder.identity.resize })));
    const ok: { path: string; pixels: Uint8Array }[] = [];
    decoded.forEach((d, i) =>
      d.status === 'fulfilled'
        ? ok.push({ path: chunk[i], pixels: d.value.pixels })
        : failed.push({ path: chunk[i], reason: decodeFailure(d.reason) }),
    );
    if (!ok.length) continue;
    const rows = await embedDecoded(
      encoder,
      ok.map((o) => o.pixels),
    );
    ok.forEach((o, i) => features.set(o.path, rows.slice(i * dim, (i + 1) * dim)));
  }
  return { features, failed };
}

/** Features of one image given as bytes (serve); throws a BAD_INPUT CapgenError when unreadable. */
export async function embedImageBuffer(encoder: Encoder | BatchEncoder, data: Buffer): Promise<Float32Array> {
  let pixels: Uint8Array;
  try {
    pixels = (await decodeImage(data, { size: encoder.identity.inputSize, resize: encoder.identity.resize })).pixels;
  } catch (e) {
    throw new CapgenError('BAD_INPUT', `unreadable image: ${decodeFailure(e)}`, { cause: e });
  }
  return embedDecoded(encoder, [pixels]);
}
