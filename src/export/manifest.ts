// capgen-model.json: everything a program needs besides the model files to caption an image with an
// exported model (every format writes the same one): the vocabulary and special ids, how to turn an
// image into the encoder's input, how to run the decoder's init/step graphs (tensor names, state), and
// capgen's decoding settings. src/export/web/caption-model.ts is a complete reader.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { encoderSourceName } from '../features/encoder-location.js';
import type { CheckpointMeta } from '../model/checkpoint.js';
import type { EncoderIdentity } from '../run/formats.js';
import type { CleaningRules } from '../text/clean.js';
import type { ModelManifest } from './web/caption-model.js';

export const MANIFEST_FILE = 'capgen-model.json';
/** `format` of every manifest: what marks a folder as capgen's export (which a later export may replace). */
const MANIFEST_FORMAT = 'capgen-model';
/** Where a manifest lies in an export: the top (tfjs, onnx) or the model folder of the web page. */
const MANIFEST_PLACES = [MANIFEST_FILE, path.join('model', MANIFEST_FILE)];

/** Whether `dir` holds an export that capgen wrote (a manifest it reads as its own). */
export function isCapgenExport(dir: string): boolean {
  return MANIFEST_PLACES.some((rel) => {
    try {
      return (JSON.parse(readFileSync(path.join(dir, rel), 'utf8')) as { format?: unknown }).format === MANIFEST_FORMAT;
    } catch {
      return false; // absent, unreadable or not JSON: not a manifest
    }
  });
}

/** The manifest as written: the reader's fields plus what only people and other tools need. */
export interface ExportManifest extends ModelManifest {
  /** The cleaning rules the training captions went through (to clean references the same way). */
  cleaning: CleaningRules;
  /** The decoder's sizes as its checkpoint records them. */
  decoderSizes: Record<string, unknown>;
  /**
   * Where it came from, by name only: an export is meant for hosting, so it names no path of the
   * machine that made it (the checkpoint's folder name; the encoder's identity with its model's folder name).
   */
  source: { checkpoint: string; epoch: number; encoder: PublicEncoder; capgenFormat: string };
}

/** The encoder identity without its paths (`source`, `sourceInRun`), and its model's folder name when it has one. */
export type PublicEncoder = Omit<EncoderIdentity, 'source' | 'sourceInRun'> & { name?: string };

function publicEncoder(e: EncoderIdentity): PublicEncoder {
  const { source, sourceInRun: _inRun, ...rest } = e;
  return source ? { ...rest, name: encoderSourceName(source) } : rest;
}

/** Names of the decoder graphs' inputs and outputs (shared by every format that exports graphs). */
export function decoderTensorNames(stateCount: number, attention: boolean): ModelManifest['decoder']['step'] & { initInput: string } {
  const state = Array.from({ length: stateCount }, (_, i) => `state_${i}`);
  return {
    path: '',
    initInput: 'features',
    inputs: { tokens: 'tokens', positions: 'positions', state },
    outputs: { logProbs: 'logProbs', state: state.map((s) => `next_${s}`), ...(attention ? { attention: 'attention' } : {}) },
  };
}

export interface ManifestParts {
  meta: CheckpointMeta;
  checkpointDir: string;
  /** Format label ('tfjs', 'onnx'), recorded in source. */
  format: string;
  encoderPath: string;
  /** 'layers-model' (tfjs; preprocessing by the reader), 'onnx' (raw pixels in, preprocessing inside). */
  encoderFormat?: ModelManifest['encoder']['format'];
  decoder: ModelManifest['decoder'];
  decoding: ModelManifest['decoding'];
}

export function buildManifest(p: ManifestParts): ExportManifest {
  const { meta } = p;
  const sizes: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(meta))
    if (typeof v === 'number' && !['format', 'epoch', 'maxCaptionLength'].includes(k)) sizes[k] = v;
  return {
    format: MANIFEST_FORMAT,
    version: 1,
    vocabulary: meta.vocab.tokens,
    specialIds: { ...meta.vocab.specials },
    image: {
      inputSize: meta.encoder.inputSize,
      resize: meta.encoder.resize,
      preprocess: meta.encoder.preprocess,
      featureShape: meta.encoder.featureShape,
    },
    encoder: { path: p.encoderPath, format: p.encoderFormat ?? 'layers-model' },
    decoder: p.decoder,
    decoding: p.decoding,
    cleaning: meta.cleaning,
    decoderSizes: sizes,
    source: {
      checkpoint: path.basename(path.resolve(p.checkpointDir)),
      epoch: meta.epoch,
      encoder: publicEncoder(meta.encoder),
      capgenFormat: p.format,
    },
  };
}
