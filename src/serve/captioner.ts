// The real captioner behind `capgen serve`: one checkpoint and its encoder, loaded once; each image is
// embedded with exactly the encoder, preprocessing and resize recorded in the checkpoint, then decoded.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend, type BackendChoice } from '../backend/index.js';
import { decodeBatch } from '../decode/index.js';
import { embedImageBuffer } from '../features/load-encoder.js';
import { describeEncoder, loadTrainedCaptioner } from '../captioner/captioner.js';
import { info, warn } from '../log.js';
import type { Captioner, CaptionResult } from './types.js';

export interface CaptionerOptions {
  checkpointDir: string;
  backend: BackendChoice;
  /** Beam search length normalisation alpha (0 = total log-probability). */
  lengthPenalty: number;
  /** No n words in a row twice in a caption (0 = off). */
  blockNgrams: number;
  /** Where the encoder is now (--encoder): checked against the weights hash in the checkpoint. */
  encoderPath?: string;
  /** The name visitors see (no path: see publicModelName in run.ts). */
  publicName: string;
}

export async function loadCaptioner(opts: CaptionerOptions): Promise<Captioner> {
  const backend = describeBackend(await initBackend(opts.backend));
  info(backend);
  const captioner = await loadTrainedCaptioner(opts.checkpointDir);
  const { meta, model, vocab, featureShape, words } = captioner;
  const { encoder, label: encoderEngine } = await captioner.openEncoder({ encoderPath: opts.encoderPath });
  const modelName = `${opts.publicName} (${meta.architecture}, epoch ${meta.epoch})`;
  const encoderName = describeEncoder(meta.encoder);
  // Attending models answer with each word's map (one image's worth: a few KB); others without.
  const grid = 'grid' in captioner.attention ? captioner.attention.grid : undefined;
  // Paths go to the server's own log only; visitors see modelName and encoderName.
  info(
    `model: ${modelName} from ${path.resolve(opts.checkpointDir)}; vocabulary ${vocab.size} ids; captions up to ${meta.maxCaptionLength} words; encoder ${encoderName}${meta.encoder.source ? ` from ${meta.encoder.source}` : ''} on ${encoderEngine}; ${grid ? `attention maps ${grid.join('x')}` : 'no attention maps'}`,
  );

  return {
    async caption(image: Buffer, { beamSize }): Promise<CaptionResult> {
      const vector = await embedImageBuffer(encoder, image);
      const features = tf.tensor(vector, [1, ...featureShape]); // [1, ...featureShape]
      try {
        // decodeBatch frees its own intermediate tensors; the serve leak test checks that.
        const [decoded] = decodeBatch(model, features, {
          ...captioner.decodeOptions({ beamSize, lengthPenalty: opts.lengthPenalty, blockNgrams: opts.blockNgrams }),
          ...(grid ? { attention: { grid } } : {}),
        });
        const caption = words(decoded!.tokens);
        const attention =
          grid && decoded!.attention
            ? {
                attention: {
                  grid,
                  words: vocab.decode(decoded!.tokens),
                  weights: decoded!.attention,
                  resize: meta.encoder.resize,
                  inputSize: meta.encoder.inputSize,
                },
              }
            : {};
        return {
          caption,
          ...(beamSize > 1 ? { beams: decoded!.beams.map((b) => ({ caption: words(b.tokens), score: b.score })) } : {}),
          ...attention,
        };
      } finally {
        features.dispose();
      }
    },
    describe: () => ({ model: modelName, encoder: encoderName, backend: backend.replace(/^backend: /, '') }),
    dispose() {
      captioner.dispose();
      Promise.resolve(encoder.dispose()).catch((e) => warn(`serve: the encoder did not close cleanly: ${(e as Error).message}`));
    },
  };
}
