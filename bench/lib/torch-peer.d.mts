// Types of bench/lib/torch-peer.mjs, for the tests that check the PyTorch peers against capgen.
export const PYTHON: string;
export interface PeerCheck {
  available: boolean;
  best: boolean;
  why: string;
}
export function ensureTorchPeer(): PeerCheck;
export function writePeerData(
  dir: string,
  data: {
    features: Float32Array;
    featureShape: number[];
    vocabSize: number;
    train?: { imageRow: number; ids: Int32Array }[];
    dev?: { imageRow: number; ids: Int32Array }[];
    extra?: Record<string, unknown>;
  },
): string;
export function peerDir(name: string): string;
export function runPeer(script: string, args: string[]): Promise<Record<string, unknown> | undefined>;
export function describePeer(result: Record<string, unknown> | undefined): string;
