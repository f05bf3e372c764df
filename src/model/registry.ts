// Every decoder capgen can train, by the name `capgen train --decoder` takes and by the
// `architecture` that checkpoints record.
import { attentionLstm } from './attention-lstm.js';
import type { DecoderSpec } from './decoder.js';
import { mergeLstm } from './merge-lstm.js';

const specs = {
  merge: mergeLstm,
  attention: attentionLstm,
};

export type DecoderName = keyof typeof specs;

/** `capgen train --decoder NAME` -> its spec. */
export const DECODERS = specs as unknown as Record<DecoderName, DecoderSpec>;

export const DECODER_NAMES = Object.keys(specs) as DecoderName[];

/** The spec that wrote a checkpoint (undefined for an architecture this capgen does not know). */
export function decoderFor(architecture: string): DecoderSpec | undefined {
  return Object.values(DECODERS).find((s) => s.architecture === architecture);
}

export function knownArchitectures(): string[] {
  return Object.values(DECODERS).map((s) => s.architecture);
}
