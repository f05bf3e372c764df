// `capgen caption IMAGE...`: features computed with exactly the encoder, preprocessing and resize
// recorded in the checkpoint, then batched decoding. Unreadable images are listed, not fatal.
import path from 'node:path';
import type { BackendChoice } from '../backend/index.js';
import { describeBackend, initBackend } from '../backend/index.js';
import { attentionGridOf } from '../decode/attention.js';
import { decodeFeatures, DEFAULT_DECODE_BATCH_SIZE } from '../decode/index.js';
import { CapgenError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { openEncoder } from '../features/engine.js';
import { embedImageFiles } from '../features/load-encoder.js';
import { locateEncoder } from '../features/encoder-location.js';
import { info } from '../log.js';
import { CHECKPOINT_FILES, loadCheckpoint } from '../model/checkpoint.js';
import type { EncoderIdentity } from '../run/formats.js';
import { Vocabulary } from '../text/vocabulary.js';
import { renderAttentionPng } from './attention-png.js';
import { expandInputs, type InputProblem } from './inputs.js';

export interface CaptionConfig {
  /** Files, folders or globs. */
  inputs: string[];
  checkpointDir: string;
  beamSize: number;
  lengthPenalty: number;
  /** No n words in a row twice in a caption (0 = off). */
  blockNgrams: number;
  /** Images embedded and decoded per batch. */
  batchSize: number;
  backend: BackendChoice;
  /** Where the encoder is now (--encoder): checked against the weights hash in the checkpoint. */
  encoderPath?: string;
  /** Write one PNG per image here: each word's attention over the image (attending decoders only). */
  attentionMapsDir?: string;
}

export { DEFAULT_CAPTION_CONFIG } from './config.js';

export interface CaptionedImage {
  image: string;
  caption: string;
  /** Total log-probability of the caption (end token included). */
  logProb: number;
  /** With beam search: every final beam, best first. */
  beams?: { caption: string; score: number; logProb: number }[];
  /** With attentionMapsDir: the PNG written for this image. */
  attentionMap?: string;
}

export interface CaptionRunResult {
  captions: CaptionedImage[];
  /** Arguments that matched nothing and images that could not be decoded, one reason each. */
  failed: InputProblem[];
  checkpoint: string;
  encoder: EncoderIdentity;
}

export function describeEncoder(e: EncoderIdentity): string {
  const layer = e.layer && e.layer !== e.architecture ? `:${e.layer}` : '';
  return `${e.architecture}${layer} (${e.preprocess} preprocessing, ${e.resize} to ${e.inputSize.join('x')}, ${e.pooling} pooling -> ${e.featureShape.join('x')})`;
}

export async function runCaption(config: CaptionConfig): Promise<CaptionRunResult> {
  const { files, problems } = await expandInputs(config.inputs);
  info(describeBackend(await initBackend(config.backend)));
  const { meta, model, engine: decoderEngine } = await loadCheckpoint(config.checkpointDir);
  try {
    const metaFile = path.join(config.checkpointDir, CHECKPOINT_FILES.meta);
    const vocab = Vocabulary.fromFile(meta.vocab, metaFile);
    const featureShape = model.spec.featureShape(model.sizes);
    let grid: [number, number] | undefined;
    if (config.attentionMapsDir !== undefined) {
      // before any image is embedded: a model without maps is a usage error, found at once
      const found = attentionGridOf({
        architecture: meta.architecture,
        featureShape,
        encoderFeatureShape: meta.encoder.featureShape,
        model,
      });
      if ('reason' in found)
        throw new CapgenError('USAGE', `--attention-maps: ${found.reason}`, {
          file: metaFile,
          hint: 'caption without --attention-maps, or use a checkpoint trained with --decoder attention or transformer',
        });
      grid = found.grid;
    }
    const { encoder, label } = await openEncoder(meta.encoder, {
      weightsPath: await locateEncoder(meta.encoder, { explicit: config.encoderPath, checkpointDir: config.checkpointDir }),
    });
    info(
      `caption: ${files.length} image${files.length === 1 ? '' : 's'}; checkpoint ${config.checkpointDir} (epoch ${meta.epoch}); encoder ${describeEncoder(meta.encoder)} on ${label}; decoder on ${decoderEngine}`,
    );
    let embedded: Awaited<ReturnType<typeof embedImageFiles>>;
    try {
      embedded = await embedImageFiles(encoder, files, { batchSize: config.batchSize });
    } finally {
      await encoder.dispose();
    }
    const readable = files.filter((f) => embedded.features.has(f));
    const decoded = await decodeFeatures(
      model,
      readable.map((f) => embedded.features.get(f)!),
      {
        maxLength: meta.maxCaptionLength,
        beamSize: config.beamSize,
        lengthPenalty: config.lengthPenalty,
        blockNgrams: config.blockNgrams,
        batchSize: DEFAULT_DECODE_BATCH_SIZE,
        featureShape,
        ...(grid ? { attention: { grid } } : {}),
      },
    );
    const words = (tokens: number[]) => vocab.decode(tokens).join(' ');
    const captions: CaptionedImage[] = readable.map((image, i) => ({
      image,
      caption: words(decoded[i].tokens),
      logProb: decoded[i].logProb,
      ...(config.beamSize > 1
        ? { beams: decoded[i].beams.map((b) => ({ caption: words(b.tokens), score: b.score, logProb: b.logProb })) }
        : {}),
    }));
    if (grid && config.attentionMapsDir !== undefined) {
      const names = mapFileNames(readable);
      for (let i = 0; i < readable.length; i++) {
        const target = path.join(config.attentionMapsDir, names[i]);
        const png = await renderAttentionPng({
          image: readable[i],
          caption: captions[i].caption,
          words: vocab.decode(decoded[i].tokens),
          weights: decoded[i].attention!,
          grid,
          encoder: meta.encoder,
        });
        await writeFileAtomic(target, png);
        captions[i].attentionMap = target;
      }
      info(`caption: wrote ${readable.length} attention map${readable.length === 1 ? '' : 's'} to ${config.attentionMapsDir}`);
    }
    return { captions, failed: [...problems, ...embedded.failed], checkpoint: config.checkpointDir, encoder: meta.encoder };
  } finally {
    model.dispose();
  }
}

/** `photo.jpg` -> `photo-attention.png` (never an input's own name); a repeated file name (two folders) gets `-2`, `-3`, ... */
export function mapFileNames(images: string[]): string[] {
  const used = new Set<string>();
  return images.map((image) => {
    const stem = path.basename(image, path.extname(image)) || 'image';
    let name = `${stem}-attention.png`;
    for (let n = 2; used.has(name.toLowerCase()); n++) name = `${stem}-${n}-attention.png`;
    used.add(name.toLowerCase());
    return name;
  });
}
