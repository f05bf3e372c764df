// Writes a small tfjs layers model to disk (model.json + weight shards), as tfjs' converter does.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

/** 16x16x3 -> conv(4) 'features' [8,8,4] -> conv(2) 'head' [8,8,2]. Weights split into `shards` files. */
export async function writeTinyModel(
  dir: string,
  opts: { seed: number; shards: number },
): Promise<{ modelJson: string; model: tf.LayersModel }> {
  const input = tf.input({ shape: [16, 16, 3] });
  const init = (s: number) => tf.initializers.randomNormal({ seed: opts.seed + s, stddev: 0.3 });
  const features = tf.layers
    .conv2d({
      name: 'features',
      filters: 4,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(1),
      biasInitializer: init(2),
    })
    .apply(input);
  const head = tf.layers
    .conv2d({ name: 'head', filters: 2, kernelSize: 1, kernelInitializer: init(3) })
    .apply(features) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: head });
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })),
  );
  const a = artifacts as tf.io.ModelArtifacts;
  const data = new Uint8Array(a.weightData as ArrayBuffer);
  const per = Math.ceil(data.length / opts.shards);
  const paths: string[] = [];
  await fs.mkdir(dir, { recursive: true });
  for (let i = 0; i < opts.shards; i++) {
    const name = `group1-shard${i + 1}of${opts.shards}.bin`;
    await fs.writeFile(path.join(dir, name), data.subarray(i * per, (i + 1) * per));
    paths.push(name);
  }
  const modelJson = path.join(dir, 'model.json');
  await fs.writeFile(
    modelJson,
    JSON.stringify({ format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths, weights: a.weightSpecs }] }),
  );
  return { modelJson, model };
}
