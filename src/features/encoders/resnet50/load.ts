// Builds the ResNet50 encoder from the official Keras weights (a given path, or the cache folder,
// downloading once), or from seeded random weights when the user explicitly asks for them.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CapgenError } from '../../../errors.js';
import { info } from '../../../log.js';
import type { EncoderIdentity } from '../../../run/formats.js';
import { capgenCacheDir, downloadOnce, findKerasCopy, hashFile } from '../../download.js';
import type { Encoder } from '../../encoder.js';
import { readKerasH5 } from '../keras-h5.js';
import { createResNet50, type ResNet50Options } from './resnet50.js';
import { resnet50Spec } from './spec.js';
import { mapResNet50Weights, randomResNet50Weights } from './weights.js';

/** The file Keras' `ResNet50(weights='imagenet', include_top=False)` downloads, and its md5 from keras/applications/resnet.py. */
export const RESNET50_WEIGHTS = {
  file: 'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5',
  url: 'https://storage.googleapis.com/tensorflow/keras-applications/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5',
  md5: '4d473c1dd8becc155b73f8504c6f6626',
} as const;

/** The input size Keras' ImageNet ResNet50 was trained at. */
export const RESNET50_INPUT: [number, number] = [224, 224];

/** `--weights PATH` if given, else the cache folder (downloading on first use). */
export async function resolveResNet50Weights(weightsPath?: string): Promise<string> {
  if (weightsPath) {
    if (!existsSync(weightsPath))
      throw new CapgenError('NOT_FOUND', 'ResNet50 weights file not found', {
        file: weightsPath,
        hint: `download ${RESNET50_WEIGHTS.url}`,
      });
    return weightsPath;
  }
  const dest = path.join(capgenCacheDir(), RESNET50_WEIGHTS.file);
  if (!existsSync(dest)) {
    // A Keras user already has the very file: read it where it is rather than download 95 MB again.
    const keras = await findKerasCopy(RESNET50_WEIGHTS.file, RESNET50_WEIGHTS.md5);
    if (keras.path) {
      info(`ResNet50 ImageNet weights: using Keras' copy ${keras.path} (md5 checked)`);
      return keras.path;
    }
    if (keras.rejected) info(`ResNet50 ImageNet weights: not using ${keras.rejected}`);
    info(`ResNet50 ImageNet weights not in ${capgenCacheDir()}: downloading them once (${RESNET50_WEIGHTS.url})`);
  }
  return downloadOnce({
    url: RESNET50_WEIGHTS.url,
    dest,
    md5: RESNET50_WEIGHTS.md5,
    manualHint: `on a machine with internet access fetch ${RESNET50_WEIGHTS.url} (md5 ${RESNET50_WEIGHTS.md5}) and put it at ${dest}, or pass --weights PATH; --weights random --seed N gives untrained weights for testing only`,
  });
}

export interface ResNet50LoadOptions {
  /** A .h5 path, 'random', or undefined for the cache. */
  weights?: string;
  seed: number;
  pooling: EncoderIdentity['pooling'];
  resize: EncoderIdentity['resize'];
  /** When given (rebuilding a recorded encoder), the file's sha256 must equal it. */
  expectedHash?: string;
  /** Test hook: divides every filter count (1 = the real network). */
  widthDivisor?: number;
  inputSize?: [number, number];
}

export async function loadResNet50(opts: ResNet50LoadOptions): Promise<Encoder> {
  return createResNet50(await resolveResNet50(opts));
}

/** Spec, weights and identity of the ResNet50 that `opts` asks for (also what the ONNX engine builds its graph from). */
export async function resolveResNet50(opts: ResNet50LoadOptions): Promise<ResNet50Options> {
  const spec = resnet50Spec(opts.widthDivisor ?? 1);
  const base = { resize: opts.resize, inputSize: opts.inputSize ?? RESNET50_INPUT };
  if (opts.weights === 'random') {
    const weightsHash = `random:${opts.seed}${opts.widthDivisor && opts.widthDivisor !== 1 ? `/w${opts.widthDivisor}` : ''}`;
    if (opts.expectedHash && opts.expectedHash !== weightsHash)
      throw new CapgenError('MISMATCH', `recorded weights ${opts.expectedHash} are not ${weightsHash}`);
    return { spec, pooling: opts.pooling, weights: randomResNet50Weights(spec, opts.seed), identity: { ...base, weightsHash } };
  }
  const file = await resolveResNet50Weights(opts.weights);
  const weightsHash = await hashFile(file, 'sha256');
  if (opts.expectedHash && opts.expectedHash !== weightsHash) {
    throw new CapgenError(
      'MISMATCH',
      `these ResNet50 weights (sha256 ${weightsHash.slice(0, 12)}...) are not the ones the features were made with (${opts.expectedHash.slice(0, 12)}...)`,
      {
        file,
        hint: 'pass --weights with the file used at prepare time',
      },
    );
  }
  const weights = mapResNet50Weights(spec, await readKerasH5(file), file);
  return { spec, pooling: opts.pooling, weights, identity: { ...base, weightsHash } };
}
