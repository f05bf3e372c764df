// The Keras Applications encoders known by name beside ResNet50: DenseNet201, VGG16 and InceptionV3,
// each as keras.applications.X(include_top=False, weights='imagenet') with its own preprocessing.
// The architecture files (encoders/<name>/) write the network as a Keras topology; this module puts
// the official h5 weights (downloaded once, md5-checked) or seeded random ones into it and runs it
// with tfjs-layers. The ONNX engine converts the same topology and weights (onnx/onnx-encoder.ts).
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CapgenError } from '../../errors.js';
import { info } from '../../log.js';
import type { EncoderIdentity } from '../../run/formats.js';
import { mulberry32 } from '../../util/random.js';
import { capgenCacheDir, downloadOnce, hashFile } from '../download.js';
import type { Encoder } from '../encoder.js';
import { preprocess } from '../preprocess.js';
import { densenet201Graph } from './densenet201/densenet201.js';
import { inceptionv3Graph } from './inceptionv3/inceptionv3.js';
import { readKerasH5, type KerasWeights } from './keras-h5.js';
import type { KerasGraph } from './keras-graph.js';
import { vgg16Graph } from './vgg16/vgg16.js';

export type KerasAppName = 'densenet201' | 'vgg16' | 'inceptionv3';

export interface KerasApp {
  name: KerasAppName;
  /** As Keras spells it, for messages. */
  label: string;
  graph(inputSize: [number, number], widthDivisor?: number): KerasGraph;
  /** The mode of the network's keras.applications preprocess_input. */
  preprocess: EncoderIdentity['preprocess'];
  /** The size its ImageNet weights were trained at (Keras' default_size). */
  inputSize: [number, number];
  /** The notop file Keras downloads: name, URL and md5 as in keras/applications/<module>.py. */
  weights: { file: string; url: string; md5: string };
}

const KERAS_WEIGHTS = 'https://storage.googleapis.com/tensorflow/keras-applications';

export const KERAS_APPS: Record<KerasAppName, KerasApp> = {
  densenet201: {
    name: 'densenet201',
    label: 'DenseNet201',
    graph: densenet201Graph,
    preprocess: 'torch',
    inputSize: [224, 224],
    weights: {
      file: 'densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5',
      url: `${KERAS_WEIGHTS}/densenet/densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5`,
      md5: 'c13680b51ded0fb44dff2d8f86ac8bb1',
    },
  },
  vgg16: {
    name: 'vgg16',
    label: 'VGG16',
    graph: vgg16Graph,
    preprocess: 'caffe',
    inputSize: [224, 224],
    weights: {
      file: 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
      url: `${KERAS_WEIGHTS}/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`,
      md5: '6d6bbae143d832006294945121d1f1fc',
    },
  },
  inceptionv3: {
    name: 'inceptionv3',
    label: 'InceptionV3',
    graph: inceptionv3Graph,
    preprocess: 'tf',
    inputSize: [299, 299],
    weights: {
      file: 'inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5',
      url: `${KERAS_WEIGHTS}/inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`,
      md5: 'bcbd6486424b2319ff4ef7d526e38f63',
    },
  },
};

export function isKerasApp(name: string): name is KerasAppName {
  return Object.hasOwn(KERAS_APPS, name);
}

/** Weights by `layer/param` (e.g. `conv1_conv/kernel`), the keys the ONNX converter reads. */
export type KerasAppWeights = Map<string, { shape: number[]; values: Float32Array }>;

const weightKey = (layer: string, weightName: string) => `${layer}/${(weightName.split('/').pop() as string).replace(/:0$/, '')}`;

/**
 * The file's layer names in the spelling of the architecture files. Keras loads these files by layer
 * order, not by name, and the names moved between Keras versions: DenseNet's `conv1/conv` became
 * `conv1_conv`, and automatic names (`conv2d_7`) carry the session's counter. So: '/' reads as '_',
 * and auto-named layers are renumbered 1, 2, ... in the order of their numbers.
 */
function canonicalLayerNames(layers: string[]): Map<string, string> {
  const out = new Map(layers.map((l) => [l, l.replace(/\//g, '_')]));
  for (const prefix of ['conv2d', 'batch_normalization']) {
    const auto = layers
      .map((l) => ({ l, m: (out.get(l) as string).match(new RegExp(`^${prefix}(?:_(\\d+))?$`)) }))
      .filter((a) => a.m)
      .sort((a, b) => Number(a.m?.[1] ?? 0) - Number(b.m?.[1] ?? 0));
    auto.forEach((a, i) => out.set(a.l, `${prefix}_${i + 1}`));
  }
  return out;
}

/** Maps a Keras h5 file onto the graph; names the file on a missing, misshapen or extra weight. */
export function mapKerasAppWeights(graph: KerasGraph, file: KerasWeights, opts: { fileName: string; app: KerasApp }): KerasAppWeights {
  const names = canonicalLayerNames([...file.keys()]);
  const byKey = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const [layer, weights] of file)
    for (const w of weights) byKey.set(weightKey(names.get(layer) as string, w.name), { shape: w.shape, values: w.values });
  const out: KerasAppWeights = new Map();
  for (const w of graph.weights) {
    const key = weightKey(w.layer, w.name);
    const got = byKey.get(key);
    if (!got)
      throw new CapgenError('BAD_INPUT', `weight ${w.name} of layer ${w.layer} is missing`, {
        file: opts.fileName,
        hint: `expected Keras' ${opts.app.label} include_top=False weights (${opts.app.weights.file})`,
      });
    if (got.shape.join('x') !== w.shape.join('x'))
      throw new CapgenError('BAD_INPUT', `weight ${w.name} has shape [${got.shape}], expected [${w.shape}]`, { file: opts.fileName });
    out.set(key, got);
  }
  const leftover = [...byKey.keys()].filter((k) => !out.has(k));
  if (leftover.length) {
    throw new CapgenError('BAD_INPUT', `${leftover.length} weights are not part of ${opts.app.label} (no top), e.g. ${leftover[0]}`, {
      file: opts.fileName,
      hint: `use ${opts.app.weights.file}, not the file with the classifier`,
    });
  }
  return out;
}

/**
 * Seeded stand-in weights (only for `--weights random`): He-uniform kernels, small biases, BatchNorm
 * statistics away from the identity so that every parameter matters in the engines' comparisons.
 */
export function randomKerasAppWeights(graph: KerasGraph, seed: number): KerasAppWeights {
  const rand = mulberry32(seed);
  const fill = (n: number, lo: number, hi: number) => {
    const out = new Float32Array(n); // a plain loop: Float32Array.from with a callback is far slower on millions of values
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rand();
    return out;
  };
  const out: KerasAppWeights = new Map();
  for (const w of graph.weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const param = w.name.split('/').pop() as string;
    let values: Float32Array;
    if (param === 'kernel:0') {
      const limit = Math.sqrt(6 / (n / w.shape[w.shape.length - 1])); // fan-in = kh * kw * in
      values = fill(n, -limit, limit);
    } else if (param === 'gamma:0') values = fill(n, 0.5, 1);
    else if (param === 'moving_variance:0') values = fill(n, 0.5, 1.5);
    else values = fill(n, -0.1, 0.1); // bias, beta, moving_mean
    out.set(weightKey(w.layer, w.name), { shape: w.shape, values });
  }
  return out;
}

/** The graph's weights in Keras' h5 layout (layer -> weights), for writeKerasH5. */
export function toKerasH5Layers(
  graph: KerasGraph,
  weights: KerasAppWeights,
): { layer: string; weights: { name: string; shape: number[]; values: Float32Array }[] }[] {
  const layers = new Map<string, { name: string; shape: number[]; values: Float32Array }[]>();
  for (const w of graph.weights) {
    const list = layers.get(w.layer) ?? [];
    list.push({ name: w.name, shape: w.shape, values: (weights.get(weightKey(w.layer, w.name)) as { values: Float32Array }).values });
    layers.set(w.layer, list);
  }
  return [...layers].map(([layer, list]) => ({ layer, weights: list }));
}

/** `--weights PATH` if given, else the cache folder (downloading Keras' file once). */
export async function resolveKerasAppWeightsFile(app: KerasApp, weightsPath?: string): Promise<string> {
  if (weightsPath) {
    if (!existsSync(weightsPath))
      throw new CapgenError('NOT_FOUND', `${app.label} weights file not found`, { file: weightsPath, hint: `download ${app.weights.url}` });
    return weightsPath;
  }
  const dest = path.join(capgenCacheDir(), app.weights.file);
  if (!existsSync(dest)) info(`${app.label} ImageNet weights not in ${capgenCacheDir()}: downloading them once (${app.weights.url})`);
  return downloadOnce({
    url: app.weights.url,
    dest,
    md5: app.weights.md5,
    manualHint: `on a machine with internet access fetch ${app.weights.url} (md5 ${app.weights.md5}) and put it at ${dest}, or pass --weights PATH; --weights random --seed N gives untrained weights for testing only`,
  });
}

export interface KerasAppOptions {
  name: KerasAppName;
  /** A .h5 path, 'random', or undefined for the cache. */
  weights?: string;
  seed: number;
  pooling: EncoderIdentity['pooling'];
  resize: EncoderIdentity['resize'];
  /** When given (rebuilding a recorded encoder), the weights must be these. */
  expectedHash?: string;
  inputSize?: [number, number];
  /** Test hook: divides the filter counts (1 = the real network). */
  widthDivisor?: number;
}

/** What both engines build from: the app, its topology, its weights and the identity of its features. */
export interface KerasAppParts {
  app: KerasApp;
  graph: KerasGraph;
  weights: KerasAppWeights;
  identity: EncoderIdentity;
}

export async function resolveKerasApp(opts: KerasAppOptions): Promise<KerasAppParts> {
  const app = KERAS_APPS[opts.name];
  const inputSize = opts.inputSize ?? app.inputSize;
  const graph = app.graph(inputSize, opts.widthDivisor ?? 1);
  const [h, w, c] = graph.outputShape;
  if (h < 1 || w < 1) throw new CapgenError('USAGE', `${app.label} needs a larger input than ${inputSize.join('x')}`);
  const identity = (weightsHash: string): EncoderIdentity => ({
    architecture: app.name,
    weightsHash,
    layer: graph.output,
    preprocess: app.preprocess,
    resize: opts.resize,
    pooling: opts.pooling,
    inputSize,
    featureShape: opts.pooling === 'avg' ? [c] : [h, w, c],
  });
  if (opts.weights === 'random') {
    const hash = `random:${opts.seed}${opts.widthDivisor && opts.widthDivisor !== 1 ? `/w${opts.widthDivisor}` : ''}`;
    if (opts.expectedHash && opts.expectedHash !== hash)
      throw new CapgenError('MISMATCH', `recorded weights ${opts.expectedHash} are not ${hash}`);
    return { app, graph, weights: randomKerasAppWeights(graph, opts.seed), identity: identity(hash) };
  }
  const file = await resolveKerasAppWeightsFile(app, opts.weights);
  const hash = await hashFile(file, 'sha256');
  if (opts.expectedHash && opts.expectedHash !== hash) {
    throw new CapgenError(
      'MISMATCH',
      `these ${app.label} weights (sha256 ${hash.slice(0, 12)}...) are not the ones the features were made with (${opts.expectedHash.slice(0, 12)}...)`,
      {
        file,
        hint: 'pass --weights with the file used at prepare time',
      },
    );
  }
  return { app, graph, weights: mapKerasAppWeights(graph, await readKerasH5(file), { fileName: file, app }), identity: identity(hash) };
}

/** The tfjs engine: TensorFlow.js' own Keras layers, built from the topology, with the weights set. */
export async function createKerasAppEncoder(parts: KerasAppParts): Promise<Encoder> {
  const model = await tf.models.modelFromJSON({ modelTopology: parts.graph.modelTopology as unknown as tf.io.ModelJSON['modelTopology'] });
  const perLayer = new Map<string, string[]>();
  for (const w of parts.graph.weights) perLayer.set(w.layer, [...(perLayer.get(w.layer) ?? []), weightKey(w.layer, w.name)]);
  for (const [layer, keys] of perLayer) {
    const values = keys.map((k) => {
      const w = parts.weights.get(k) as { shape: number[]; values: Float32Array };
      return tf.tensor(w.values, w.shape);
    });
    model.getLayer(layer).setWeights(values);
    tf.dispose(values);
  }
  const { identity } = parts;
  return {
    identity,
    /** [N, H, W, 3] RGB 0..255 -> [N, C] (avg) or [N, h, w, C] (none). */
    embed(pixels: tf.Tensor4D): tf.Tensor {
      return tf.tidy(() => {
        const out = model.predict(preprocess(pixels, identity.preprocess)) as tf.Tensor4D;
        return identity.pooling === 'avg' ? tf.mean(out, [1, 2]) : out;
      });
    },
    dispose: () => model.dispose(),
  };
}

export async function loadKerasApp(opts: KerasAppOptions): Promise<Encoder> {
  return createKerasAppEncoder(await resolveKerasApp(opts));
}
