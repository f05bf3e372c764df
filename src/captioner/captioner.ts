// The trained captioner: a checkpoint folder made usable once, the same way for `caption`, `eval`,
// `serve` and `export`: checkpoint -> vocabulary -> cleaning rules -> decoder (on the engine
// src/engine/choice.ts picks) -> encoder -> decoding options.
import path from 'node:path';
import { attentionGridOf } from '../decode/attention.js';
import type { DecodeOptions } from '../decode/types.js';
import type { EngineChoice, EngineName } from '../engine/choices.js';
import { openDecoder } from '../engine/decoder.js';
import type { BatchEncoder, Encoder } from '../features/encoder.js';
import { encoderSourceName, locateEncoder } from '../features/encoder-location.js';
import { openEncoder } from '../features/engine.js';
import type { BaseSizes, DecoderSpec, Weights } from '../model/decoder.js';
import { CHECKPOINT_FILES, checkpointDecoder, readCheckpoint, type CaptionModel, type CheckpointMeta } from '../model/checkpoint.js';
import type { EncoderIdentity } from '../run/formats.js';
import type { CleaningRules } from '../text/clean.js';
import { Vocabulary } from '../text/vocabulary.js';

/** How to decode: the flags every captioning command shares (src/cli/options.ts decodingOptions). */
export interface DecodingFlags {
  beamSize: number;
  lengthPenalty: number;
  /** No n words in a row twice in a caption (0 = off). */
  blockNgrams: number;
}

/** A checkpoint read and checked, its decoder not built yet: what export writes out. */
export interface TrainedCheckpoint {
  dir: string;
  /** checkpoint.json: the file errors about the checkpoint name. */
  metaFile: string;
  meta: CheckpointMeta;
  spec: DecoderSpec;
  sizes: BaseSizes;
  weights: Weights;
  vocab: Vocabulary;
  /** The rules the training captions were cleaned with: references are cleaned the same way. */
  cleaning: CleaningRules;
  /** With `trainImages`: the images the weights were trained on (undefined when not recorded). */
  trainImages?: string[];
}

/** Reads a checkpoint folder with its vocabulary and decoder description (BAD_INPUT naming the file when wrong). */
export async function readTrainedCheckpoint(dir: string, opts: { trainImages?: boolean } = {}): Promise<TrainedCheckpoint> {
  const { meta, weights, trainImages } = await readCheckpoint(dir, { trainImages: opts.trainImages });
  const metaFile = path.join(dir, CHECKPOINT_FILES.meta);
  const { spec, sizes } = checkpointDecoder(meta, dir);
  const vocab = Vocabulary.fromFile(meta.vocab, metaFile);
  return { dir, metaFile, meta, spec, sizes, weights, vocab, cleaning: meta.cleaning, ...(trainImages ? { trainImages } : {}) };
}

/** The decoding options of a checkpoint for these flags: captions stop after its longest training caption. */
export function decodeOptionsFor(meta: CheckpointMeta, flags: DecodingFlags): DecodeOptions {
  return { maxLength: meta.maxCaptionLength, beamSize: flags.beamSize, lengthPenalty: flags.lengthPenalty, blockNgrams: flags.blockNgrams };
}

export interface TrainedCaptioner extends Omit<TrainedCheckpoint, 'weights'> {
  model: CaptionModel;
  /** What runs the decoder. */
  engine: EngineName;
  /** One image's features as the decoder takes them. */
  featureShape: number[];
  /** The grid of an attending decoder's maps, or why it has none. */
  attention: { grid: [number, number] } | { reason: string };
  /** The caption of a decoded token sequence. */
  words(tokens: number[]): string;
  decodeOptions(flags: DecodingFlags): DecodeOptions;
  /** The recorded image encoder (on ONNX Runtime or tfjs); `encoderPath`: where it is now, when moved. */
  openEncoder(opts?: { encoderPath?: string }): Promise<{ encoder: Encoder | BatchEncoder; label: string }>;
  dispose(): void;
}

/** Builds the captioner of a checkpoint folder; the caller disposes it. */
export async function loadTrainedCaptioner(
  dir: string,
  opts: { trainImages?: boolean; engine?: EngineChoice } = {},
): Promise<TrainedCaptioner> {
  const { weights, ...checkpoint } = await readTrainedCheckpoint(dir, { trainImages: opts.trainImages });
  const { model, engine } = openDecoder(checkpoint.spec, checkpoint.sizes, weights, { engine: opts.engine });
  const { meta, vocab } = checkpoint;
  const featureShape = model.spec.featureShape(model.sizes);
  const attention = attentionGridOf({
    architecture: meta.architecture,
    featureShape,
    encoderFeatureShape: meta.encoder.featureShape,
    model,
  });
  return {
    ...checkpoint,
    model,
    engine,
    featureShape,
    attention,
    words: (tokens) => vocab.decode(tokens).join(' '),
    decodeOptions: (flags) => decodeOptionsFor(meta, flags),
    openEncoder: async ({ encoderPath } = {}) =>
      openEncoder(meta.encoder, { weightsPath: await locateEncoder(meta.encoder, { explicit: encoderPath, checkpointDir: dir }) }),
    dispose: () => model.dispose(),
  };
}

/** The encoder in one line: architecture, the model's folder name (never its path), layer and shapes. */
export function describeEncoder(e: EncoderIdentity): string {
  const layer = e.layer && e.layer !== e.architecture ? `:${e.layer}` : '';
  const source = e.source ? ` ${encoderSourceName(e.source)}` : '';
  return `${e.architecture}${source}${layer} (${e.preprocess}, ${e.resize} ${e.inputSize.join('x')}, ${e.pooling} -> ${e.featureShape.join('x')})`;
}
