// Small trained runs for the export fault tests: the synthetic scenes through each kind of encoder
// capgen exports (seeded-cnn, and a tiny tfjs layers model, test/features/tiny-model.ts), pooled or
// spatial, and every decoder that takes them; prepared once per encoder and pooling, trained per decoder.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { writeTinyModel } from '../features/tiny-model.js';
import { runCli } from '../helpers.js';
import { SCENES, SMALL_TRAIN } from './fixtures.js';

export type EncoderKind = 'seeded-cnn' | 'layers';
export type DecoderName = 'merge' | 'attention' | 'transformer';

export interface ModelCase {
  decoder: DecoderName;
  encoder: EncoderKind;
  pooling: 'avg' | 'none';
}

/** Every decoder on every exportable encoder, spatial and pooled where the decoder allows (merge: pooled; the others: spatial). */
export const MODEL_CASES: ModelCase[] = (['seeded-cnn', 'layers'] as const).flatMap((encoder) => [
  { decoder: 'merge', encoder, pooling: 'avg' },
  { decoder: 'attention', encoder, pooling: 'none' },
  { decoder: 'transformer', encoder, pooling: 'none' },
]);

// Tiny sizes: a few seconds per run; the exports must agree with `capgen caption` whatever the weights.
const DECODER_FLAGS: Record<DecoderName, string[]> = {
  merge: SMALL_TRAIN,
  attention: [...SMALL_TRAIN, '--attention-size', '8', '--projection-size', '8'],
  transformer: ['--width', '16', '--heads', '2', '--ffn-size', '32', '--batch-size', '8', '--replicas', '1'],
};

export const caseName = (c: ModelCase) => `${c.decoder} on ${c.encoder} (${c.pooling === 'none' ? 'spatial' : 'pooled'})`;

/** Makes trained runs under `root`, preparing each encoder and pooling once. */
export function modelRuns(root: string): (c: ModelCase) => Promise<string> {
  const prepared = new Map<string, Promise<string>>();
  let tinyModel: Promise<string> | undefined;
  const encoderFlags = async (kind: EncoderKind): Promise<string[]> => {
    if (kind === 'seeded-cnn') return ['--encoder', 'seeded-cnn'];
    tinyModel ??= writeTinyModel(path.join(root, 'tiny-encoder'), { seed: 4, shards: 1 }).then(({ modelJson, model }) => {
      model.dispose();
      return modelJson;
    });
    return ['--encoder', await tinyModel, '--encoder-layer', 'features', '--preprocess', 'unit'];
  };
  const prepare = (encoder: EncoderKind, pooling: string) => {
    const key = `${encoder}-${pooling}`;
    let p = prepared.get(key);
    if (!p) {
      p = (async () => {
        const dir = path.join(root, `prepared-${key}`);
        const flags = await encoderFlags(encoder);
        const r = await runCli([
          'prepare',
          '--dataset',
          'synthetic',
          '--count',
          SCENES,
          '--seed',
          '1',
          '--out',
          dir,
          '--pooling',
          pooling,
          ...flags,
        ]);
        expect(r.code, r.stderr).toBe(0);
        return dir;
      })();
      prepared.set(key, p);
    }
    return p;
  };
  return async (c) => {
    const run = path.join(root, `${c.decoder}-${c.encoder}-${c.pooling}`);
    await fs.cp(await prepare(c.encoder, c.pooling), run, { recursive: true });
    const r = await runCli([
      'train',
      '--run',
      run,
      '--decoder',
      c.decoder,
      '--epochs',
      '2',
      '--seed',
      '1',
      '--lr',
      '1e-2',
      ...DECODER_FLAGS[c.decoder],
    ]);
    expect(r.code, r.stderr).toBe(0);
    return run;
  };
}
