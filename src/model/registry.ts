// Every decoder capgen can train, by the name `capgen train --decoder` takes and by the
// `architecture` that checkpoints record.
import { attentionLstm } from './attention-lstm.js';
import type { DecoderSpec } from './decoder.js';
import { mergeLstm } from './merge-lstm.js';
import { transformer } from './transformer.js';

const specs = {
  merge: mergeLstm,
  attention: attentionLstm,
  transformer,
};

export type DecoderName = keyof typeof specs;

/** `capgen train --decoder NAME` -> its spec. */
export const DECODERS = specs as unknown as Record<DecoderName, DecoderSpec>;

export const DECODER_NAMES = Object.keys(specs) as DecoderName[];

/** Specs registered at run time (test decoders, experiments): checkpoints find them, `--decoder` does not. */
const registered: DecoderSpec[] = [];

/** Makes checkpoints of `spec.architecture` loadable (eval, caption and serve rebuild it from them). */
export function registerDecoder(spec: DecoderSpec): void {
  if (!decoderFor(spec.architecture)) registered.push(spec);
}

/** The spec that wrote a checkpoint (undefined for an architecture this capgen does not know). */
export function decoderFor(architecture: string): DecoderSpec | undefined {
  return [...Object.values(DECODERS), ...registered].find((s) => s.architecture === architecture);
}

export function knownArchitectures(): string[] {
  return [...Object.values(DECODERS), ...registered].map((s) => s.architecture);
}
