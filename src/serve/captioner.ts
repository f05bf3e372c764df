// The real captioner behind `capgen serve`: one checkpoint and its encoder, loaded once; each image is
// embedded with exactly the encoder, preprocessing and resize recorded in the checkpoint, then decoded.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend, type BackendChoice } from '../backend/index.js';
import { decodeBatch } from '../decode/index.js';
import { embedImageBuffer, loadEncoder } from '../features/load-encoder.js';
import { locateEncoder } from '../features/encoder-location.js';
import { info } from '../log.js';
import { CHECKPOINT_FILES, loadCheckpoint } from '../model/checkpoint.js';
import type { EncoderIdentity } from '../run/formats.js';
import { Vocabulary } from '../text/vocabulary.js';
import type { Captioner, CaptionResult } from './types.js';

export interface CaptionerOptions {
  checkpointDir: string;
  backend: BackendChoice;
  /** Beam search length normalisation alpha (0 = total log-probability). */
  lengthPenalty: number;
  /** Where the encoder is now (--encoder): checked against the weights hash in the checkpoint. */
  encoderPath?: string;
}

export function describeEncoder(e: EncoderIdentity): string {
  const layer = e.layer && e.layer !== e.architecture ? `:${e.layer}` : '';
  return `${e.architecture}${layer} (${e.preprocess}, ${e.resize} ${e.inputSize.join('x')}, ${e.pooling} -> ${e.featureShape.join('x')})`;
}

export async function loadCaptioner(opts: CaptionerOptions): Promise<Captioner> {
  const backend = describeBackend(await initBackend(opts.backend));
  info(backend);
  const { meta, model } = await loadCheckpoint(opts.checkpointDir);
  const vocab = Vocabulary.fromFile(meta.vocab, path.join(opts.checkpointDir, CHECKPOINT_FILES.meta));
  const encoder = await loadEncoder(meta.encoder, { weightsPath: await locateEncoder(meta.encoder, { explicit: opts.encoderPath, checkpointDir: opts.checkpointDir }) });
  const modelName = `${displayPath(opts.checkpointDir)} (${meta.architecture}, epoch ${meta.epoch})`;
  const encoderName = describeEncoder(meta.encoder);
  info(`model: ${modelName}; vocabulary ${vocab.size} ids; captions up to ${meta.maxCaptionLength} words; encoder ${encoderName}`);

  return {
    async caption(image: Buffer, { beamSize }): Promise<CaptionResult> {
      const vector = await embedImageBuffer(encoder, image);
      const features = tf.tensor2d(vector, [1, vector.length]); // [1, featureSize]
      try {
        // decodeBatch frees its own intermediate tensors; the serve leak test checks that.
        const [decoded] = decodeBatch(model, features, { maxLength: meta.maxCaptionLength, beamSize, lengthPenalty: opts.lengthPenalty });
        const words = (tokens: number[]) => vocab.decode(tokens).join(' ');
        const caption = words(decoded!.tokens);
        return beamSize > 1 ? { caption, beams: decoded!.beams.map((b) => ({ caption: words(b.tokens), score: b.score })) } : { caption };
      } finally {
        features.dispose();
      }
    },
    describe: () => ({ model: modelName, encoder: encoderName, backend: backend.replace(/^backend: /, '') }),
    dispose() {
      model.dispose();
      encoder.dispose();
    },
  };
}

/** Relative to the working folder when inside it, else absolute. */
function displayPath(dir: string): string {
  const relative = path.relative(process.cwd(), path.resolve(dir));
  return relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? path.resolve(dir) : relative;
}
