// The image encoder a checkpoint was trained with, as a TensorFlow.js layers model (model.json +
// weights): input = the preprocessed image [N, H, W, 3] (the manifest says how to preprocess), output
// = the features the decoder was trained on. Rebuilt from the recorded identity, hash checked.
import * as tf from '@tensorflow/tfjs';
import { CapgenError } from '../errors.js';
import { seededCnnLayersModel } from '../features/encoders/seeded-cnn.js';
import { hashLayersWeights, loadFromDisk } from '../features/encoders/layers-encoder.js';
import type { EncoderIdentity } from '../run/formats.js';

export const LAYERS_WEIGHTS_FILE = 'weights.bin';

/** A layers model that computes exactly the recorded encoder's features (pooling included). */
export async function encoderLayersModel(identity: EncoderIdentity): Promise<tf.LayersModel> {
  if (identity.architecture === 'seeded-cnn') {
    return seededCnnLayersModel({
      seed: Number(identity.weightsHash.replace(/^seeded:/, '')),
      inputSize: identity.inputSize,
      pooling: identity.pooling,
    });
  }
  if (identity.architecture === 'tfjs-layers') {
    const source = identity.source;
    if (!source) throw new CapgenError('NOT_FOUND', 'the recorded encoder does not say where its model.json is');
    const hash = await hashLayersWeights(source);
    if (hash !== identity.weightsHash) {
      throw new CapgenError(
        'MISMATCH',
        `the weights of this model are not the ones the features were made with (sha256 ${hash.slice(0, 12)}... vs ${identity.weightsHash.slice(0, 12)}...)`,
        { file: source },
      );
    }
    const full = await loadFromDisk(source);
    let out = full.getLayer(identity.layer).output as tf.SymbolicTensor;
    // 'avg' pooling of a spatial output is the mean over height and width: a GlobalAveragePooling2D layer.
    if (identity.pooling === 'avg' && out.shape.length === 4) out = tf.layers.globalAveragePooling2d({}).apply(out) as tf.SymbolicTensor;
    return tf.model({ inputs: full.inputs, outputs: out });
  }
  throw new CapgenError('USAGE', `exporting the '${identity.architecture}' encoder is not supported yet`, {
    hint: 'export works for runs prepared with a tfjs layers model (--encoder path/to/model.json, e.g. MobileNet) or seeded-cnn',
  });
}

/** model.json + weights of a layers model, as tf.io.withSaveHandler hands them over. */
export async function layersModelFiles(model: tf.LayersModel): Promise<{ modelJson: Record<string, unknown>; weightData: Uint8Array }> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts?.weightData || !artifacts.weightSpecs) throw new Error('layers model save gave no weights');
  const data = artifacts.weightData;
  const weightData = new Uint8Array(Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data);
  return {
    modelJson: {
      format: 'layers-model',
      generatedBy: 'capgen',
      convertedBy: 'capgen export',
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: [LAYERS_WEIGHTS_FILE], weights: artifacts.weightSpecs }],
    },
    weightData,
  };
}
