// The ONNX Runtime engine of the image encoders: ResNet50, the Keras Applications encoders and tfjs
// layers models rebuilt as ONNX
// graphs (same weights, same identity) and run by onnxruntime-node on the CPU's cores.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { createOnnxSession, type OnnxRuntime, type OrtSession } from '../../engine/onnx/runtime.js';
import type { EncoderIdentity } from '../../run/formats.js';
import type { FeaturesConfig } from '../config.js';
import type { BatchEncoder } from '../encoder.js';
import { packPixels } from '../image-load.js';
import { isKerasApp, resolveKerasApp, type KerasAppParts } from '../encoders/keras-apps.js';
import { hashLayersWeights } from '../encoders/layers-encoder.js';
import { resnet50Identity } from '../encoders/resnet50/resnet50.js';
import { resolveResNet50 } from '../encoders/resnet50/load.js';
import { kerasWeightsOf } from '../load-encoder.js';
import { INPUT_NAME, OUTPUT_NAME } from './graph-builder.js';
import { layersGraph, type LayersModelJson } from './layers-graph.js';
import { encodeOnnxModel, type OnnxModel } from '../../engine/onnx/proto.js';
import { resnet50Graph } from './resnet50-graph.js';

export interface OnnxEncoder extends BatchEncoder {
  /** ORT's intra-op threads. */
  readonly threads: number;
}

/** Runs `model` (input [batch, H, W, 3] RGB 0..255, output the feature rows) in an ORT session. */
export async function createOnnxEncoder(
  model: OnnxModel,
  identity: EncoderIdentity,
  opts: { threads?: number } = {},
): Promise<OnnxEncoder> {
  const { session, threads, ort } = await createOnnxSession(encodeOnnxModel(model), opts);
  return wrapSession(session, ort, identity, threads);
}

function wrapSession(session: OrtSession, ort: OnnxRuntime, identity: EncoderIdentity, threads: number): OnnxEncoder {
  const [h, w] = identity.inputSize;
  const dim = identity.featureShape.reduce((a, b) => a * b, 1);
  return {
    identity,
    threads,
    async embedBatch(pixels) {
      const batch = packPixels(pixels, identity.inputSize, (n) => new Float32Array(n));
      const input = new ort.Tensor('float32', batch, [pixels.length, h, w, 3]);
      const out = (await session.run({ [INPUT_NAME]: input }))[OUTPUT_NAME];
      try {
        const rows = out.data as Float32Array;
        if (rows.length !== pixels.length * dim)
          throw new Error(`the ONNX graph gave ${rows.length} values for ${pixels.length} images of ${dim}`);
        return Float32Array.from(rows);
      } finally {
        out.dispose?.();
        input.dispose?.();
      }
    },
    dispose: () => session.release(),
  };
}

/** ONNX graph + identity for `config`'s encoder, or the reason there is none (the caller then runs tfjs). */
export async function onnxGraphFor(config: FeaturesConfig): Promise<{ model: OnnxModel; identity: EncoderIdentity } | { reason: string }> {
  if (config.encoder === 'resnet50') {
    const parts = await resolveResNet50({ weights: config.weights, seed: config.seed, pooling: config.pooling, resize: config.resize });
    return { model: resnet50Graph({ ...parts, inputSize: parts.identity.inputSize }), identity: resnet50Identity(parts) };
  }
  if (isKerasApp(config.encoder)) {
    const parts = await resolveKerasApp({
      name: config.encoder,
      weights: config.weights,
      seed: config.seed,
      pooling: config.pooling,
      resize: config.resize,
    });
    return kerasAppGraph(parts);
  }
  if (config.encoder.endsWith('.json') && config.preprocess)
    return layersModelGraph(config.encoder, { ...config, preprocess: config.preprocess });
  return { reason: `encoder '${config.encoder}' has no ONNX graph` };
}

/**
 * ONNX graph of the encoder recorded in `identity` (caption, serve), or the reason there is none: no
 * graph for its architecture, or what the graph would compute is not exactly the recorded encoder
 * (other weights, layer or sizes; tfjs then rebuilds it and reports the mismatch).
 */
export async function onnxGraphForIdentity(
  identity: EncoderIdentity,
  opts: { weightsPath?: string },
): Promise<{ model: OnnxModel; identity: EncoderIdentity } | { reason: string }> {
  let graph: { model: OnnxModel; identity: EncoderIdentity } | { reason: string };
  const recorded = {
    ...kerasWeightsOf(identity, opts.weightsPath),
    pooling: identity.pooling,
    resize: identity.resize,
    inputSize: identity.inputSize,
  };
  if (identity.architecture === 'resnet50') {
    const parts = await resolveResNet50({ ...recorded, expectedHash: identity.weightsHash });
    graph = { model: resnet50Graph({ ...parts, inputSize: parts.identity.inputSize }), identity: resnet50Identity(parts) };
  } else if (isKerasApp(identity.architecture)) {
    graph = kerasAppGraph(await resolveKerasApp({ name: identity.architecture, ...recorded, expectedHash: identity.weightsHash }));
  } else if (identity.architecture === 'tfjs-layers') {
    const modelJsonPath = opts.weightsPath ?? identity.source;
    if (!modelJsonPath || !existsSync(modelJsonPath)) return { reason: 'the recorded model.json is not at hand' };
    graph = await layersModelGraph(modelJsonPath, {
      encoderLayer: identity.layer,
      preprocess: identity.preprocess,
      pooling: identity.pooling,
      resize: identity.resize,
    });
  } else {
    return { reason: `the ${identity.architecture} encoder has no ONNX graph` };
  }
  if (!('model' in graph)) return graph;
  const same = (k: keyof EncoderIdentity) => JSON.stringify(graph.identity[k]) === JSON.stringify(identity[k]);
  const differs = (['weightsHash', 'layer', 'preprocess', 'pooling', 'inputSize', 'featureShape'] as const).filter((k) => !same(k));
  return differs.length ? { reason: `the ONNX graph differs from the recorded encoder in ${differs.join(', ')}` } : graph;
}

/** A Keras Applications encoder through the layers converter: same topology and weights as its tfjs engine. */
export function kerasAppGraph(parts: KerasAppParts): { model: OnnxModel; identity: EncoderIdentity } | { reason: string } {
  const { identity } = parts;
  const graph = layersGraph({
    json: { modelTopology: parts.graph.modelTopology },
    weights: parts.weights,
    preprocess: identity.preprocess,
    pooling: identity.pooling,
  });
  if (!graph.ok) return { reason: graph.reason };
  if (graph.featureShape.join() !== identity.featureShape.join())
    throw new Error(`${identity.architecture}: the ONNX graph gives [${graph.featureShape}], the tfjs one [${identity.featureShape}]`);
  return { model: graph.model, identity };
}

async function layersModelGraph(
  modelJsonPath: string,
  opts: {
    encoderLayer?: string;
    preprocess: EncoderIdentity['preprocess'];
    pooling: EncoderIdentity['pooling'];
    resize: EncoderIdentity['resize'];
  },
): Promise<{ model: OnnxModel; identity: EncoderIdentity } | { reason: string }> {
  const weightsHash = await hashLayersWeights(modelJsonPath); // also checks that the model and its shards exist
  const json = JSON.parse(await fs.readFile(modelJsonPath, 'utf8')) as LayersModelJson;
  const shards: Buffer[] = [];
  for (const group of json.weightsManifest ?? []) {
    for (const p of group.paths) {
      const file = path.join(path.dirname(modelJsonPath), p);
      if (existsSync(file)) shards.push(await fs.readFile(file));
    }
  }
  const graph = layersGraph({
    json,
    weightData: Buffer.concat(shards),
    layer: opts.encoderLayer,
    preprocess: opts.preprocess,
    pooling: opts.pooling,
  });
  if (!graph.ok) return { reason: graph.reason };
  const identity: EncoderIdentity = {
    architecture: 'tfjs-layers',
    weightsHash,
    layer: graph.layer,
    preprocess: opts.preprocess,
    resize: opts.resize,
    pooling: opts.pooling,
    inputSize: graph.inputSize,
    featureShape: graph.featureShape,
    source: path.resolve(modelJsonPath), // as createLayersEncoder records it
  };
  return { model: graph.model, identity };
}
