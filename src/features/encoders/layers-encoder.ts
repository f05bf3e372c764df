// Any TensorFlow.js layers model (model.json + single or sharded weight files) as an image encoder,
// optionally cut at a named layer, with average pooling of a spatial output.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CapgenError } from '../../errors.js';
import type { EncoderIdentity } from '../../run/formats.js';
import type { Encoder } from '../encoder.js';
import { preprocess } from '../preprocess.js';

interface ModelJson {
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

async function readModelJson(file: string): Promise<ModelJson> {
  if (!existsSync(file))
    throw new CapgenError('NOT_FOUND', 'encoder model not found', { file, hint: 'give the path of a TensorFlow.js layers model.json' });
  let json: ModelJson;
  try {
    json = JSON.parse(await fs.readFile(file, 'utf8')) as ModelJson;
  } catch (e) {
    throw new CapgenError('BAD_INPUT', `not a JSON file: ${(e as Error).message}`, { file });
  }
  if (!json.modelTopology || !json.weightsManifest) {
    throw new CapgenError('BAD_INPUT', 'not a TensorFlow.js layers model (no modelTopology / weightsManifest)', { file });
  }
  return json;
}

/** sha256 over the weight files in manifest order: the identity of a tfjs model's weights. */
export async function hashLayersWeights(modelJsonPath: string): Promise<string> {
  const json = await readModelJson(modelJsonPath);
  const hash = createHash('sha256');
  for (const group of json.weightsManifest ?? []) {
    for (const p of group.paths) {
      const file = path.join(path.dirname(modelJsonPath), p);
      if (!existsSync(file))
        throw new CapgenError('NOT_FOUND', `weight shard '${p}' named by the model is missing`, { file: modelJsonPath });
      await new Promise<void>((resolve, reject) => {
        createReadStream(file)
          .on('data', (d) => hash.update(d))
          .on('end', resolve)
          .on('error', reject);
      });
    }
  }
  return hash.digest('hex');
}

/** Loads model.json and its shards from disk (tf.loadLayersModel's file:// needs tfjs-node). */
export async function loadFromDisk(modelJsonPath: string): Promise<tf.LayersModel> {
  const json = await readModelJson(modelJsonPath);
  const handler: tf.io.IOHandler = {
    load: async () => {
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest ?? []) {
        specs.push(...group.weights);
        for (const p of group.paths) buffers.push(await fs.readFile(path.join(path.dirname(modelJsonPath), p)));
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
  try {
    return await tf.loadLayersModel(handler);
  } catch (e) {
    throw new CapgenError('BAD_INPUT', `cannot load the layers model: ${(e as Error).message.split('\n')[0]}`, {
      file: modelJsonPath,
      cause: e,
    });
  }
}

export interface LayersEncoderOptions {
  modelJsonPath: string;
  /** Cut the model at this layer (default: the model's own output). */
  layer?: string;
  preprocess: EncoderIdentity['preprocess'];
  pooling: EncoderIdentity['pooling'];
  resize: EncoderIdentity['resize'];
  /** Known hash (from a recorded identity) to skip re-hashing; verified by the caller. */
  weightsHash?: string;
}

export async function createLayersEncoder(opts: LayersEncoderOptions): Promise<Encoder> {
  const weightsHash = opts.weightsHash ?? (await hashLayersWeights(opts.modelJsonPath));
  const full = await loadFromDisk(opts.modelJsonPath);
  let model: tf.LayersModel = full;
  let layerName = full.outputs[0].sourceLayer?.name ?? full.layers[full.layers.length - 1].name;
  if (opts.layer) {
    const names = full.layers.map((l) => l.name);
    if (!names.includes(opts.layer)) {
      full.dispose();
      const near = names.filter((n) => n.includes(opts.layer as string) || (opts.layer as string).includes(n)).slice(0, 5);
      throw new CapgenError('USAGE', `the model has no layer '${opts.layer}'`, {
        file: opts.modelJsonPath,
        hint: `layers include ${(near.length ? near : names.slice(-5)).join(', ')}`,
      });
    }
    model = tf.model({ inputs: full.inputs, outputs: full.getLayer(opts.layer).output as tf.SymbolicTensor });
    layerName = opts.layer;
  }
  const inShape = full.inputs[0].shape; // [null, H, W, 3]
  if (inShape.length !== 4 || inShape[3] !== 3 || !inShape[1] || !inShape[2]) {
    full.dispose();
    throw new CapgenError(
      'BAD_INPUT',
      `the model's input is [${inShape.join(', ')}], expected [batch, height, width, 3] with a fixed size`,
      { file: opts.modelJsonPath },
    );
  }
  const outShape = (model.outputs[0].shape as (number | null)[]).slice(1) as number[];
  const featureShape = opts.pooling === 'avg' && outShape.length === 3 ? [outShape[2]] : outShape;
  const identity: EncoderIdentity = {
    architecture: 'tfjs-layers',
    weightsHash,
    layer: layerName,
    preprocess: opts.preprocess,
    resize: opts.resize,
    pooling: opts.pooling,
    inputSize: [inShape[1], inShape[2]],
    featureShape,
    source: path.resolve(opts.modelJsonPath), // absolute: caption/serve may run from another folder
  };
  return {
    identity,
    /** [N, H, W, 3] RGB 0..255 -> [N, C] (pooled) or [N, ...layer output]. */
    embed(pixels: tf.Tensor4D): tf.Tensor {
      return tf.tidy(() => {
        const out = model.predict(preprocess(pixels, opts.preprocess)) as tf.Tensor;
        return opts.pooling === 'avg' && out.rank === 4 ? tf.mean(out, [1, 2]) : out;
      });
    },
    dispose: () => full.dispose(),
  };
}
