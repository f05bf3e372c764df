// checkpoint.json itself was not verified: a vocabulary word edited by hand, a weight's shape
// changed or the sha256 field removed all loaded (and all-NaN weights then captioned "a" with exit
// 0). Now checkpoint.json records a hash of its own content (contentSha256) beside the files'
// hashes: any edit, and a missing hash, is an error naming the file (exit 2), and weights with NaN or
// infinite values are refused at load.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckpoint, saveCheckpoint } from '../../src/model/checkpoint.js';
import { initialWeights, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { DEFAULT_CLEANING } from '../../src/text/clean.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { encoderIdentity } from '../train/fixtures.js';
import { copyRun, expectOneLineError, trainedRun } from './fixtures.js';

const sizes: MergeLstmSizes = { vocabSize: 11, embeddingSize: 4, hiddenSize: 6, featureSize: 5, dropout: 0.5 };

function meta() {
  return {
    architecture: 'merge-lstm',
    ...sizes,
    vocab: {
      tokens: ['<pad>', '<start>', '<end>', '<unk>', ...'abcdefg'.split('')],
      specials: { pad: 0, start: 1, end: 2, unk: 3 } as const,
      minCount: 1,
    },
    cleaning: DEFAULT_CLEANING,
    encoder: encoderIdentity(),
    maxCaptionLength: 9,
    trainConfig: { batchSize: 4 },
    epoch: 3,
    metrics: { valLoss: 1.5 },
    createdAt: 'now',
  };
}

async function editJson(file: string, edit: (meta: Record<string, unknown>) => void): Promise<void> {
  const value = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  edit(value);
  await fs.writeFile(file, JSON.stringify(value, null, 2));
}

describe('checkpoint.json is integrity-checked', () => {
  const edits: [string, (m: Record<string, unknown>) => void, RegExp][] = [
    ['a vocabulary word edited', (m) => ((m.vocab as { tokens: string[] }).tokens[5] = 'zebra'), /was changed after it was written/],
    ['a weight shape changed', (m) => ((m.weights as { shape: number[] }[])[0].shape = [6, 4]), /was changed after it was written/],
    ['the epoch changed', (m) => (m.epoch = 30), /was changed after it was written/],
    ['the sha256 field removed', (m) => delete m.sha256, /has no sha256 field/],
    ['the contentSha256 field removed', (m) => delete m.contentSha256, /has no contentSha256 field/],
    [
      "weights.bin's hash removed",
      (m) => {
        delete (m.sha256 as Record<string, string>)['weights.bin'];
        // re-sealing does not help: a checkpoint without a file's hash is refused
      },
      /was changed after it was written|records no sha256 for weights\.bin/,
    ],
  ];

  it.each(edits)('%s: refused naming checkpoint.json', async (_name, edit, message) => {
    const dir = path.join(tempDir('capgen-seal-'), 'best');
    await saveCheckpoint(dir, { meta: meta(), weights: initialWeights(sizes, 1) });
    await expect(readCheckpoint(dir)).resolves.toBeDefined();
    await editJson(path.join(dir, 'checkpoint.json'), edit);
    const error = await readCheckpoint(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'BAD_INPUT', file: path.join(dir, 'checkpoint.json'), message: expect.stringMatching(message) });
  });

  it('NaN or infinite weights are refused at load, even with valid hashes', async () => {
    for (const bad of [NaN, Infinity]) {
      const dir = path.join(tempDir('capgen-nan-'), 'best');
      const weights = initialWeights(sizes, 1);
      for (const values of Object.values(weights)) values.fill(bad);
      await saveCheckpoint(dir, { meta: meta(), weights });
      await expect(readCheckpoint(dir)).rejects.toMatchObject({
        code: 'BAD_INPUT',
        file: path.join(dir, 'weights.bin'),
        message: expect.stringMatching(/values NaN or infinite/),
      });
    }
  });

  describe.skipIf(!existsSync(BIN))('through the CLI', () => {
    const root = tempDir('capgen-seal-cli-');
    it('eval and caption exit 2 with one line naming checkpoint.json: edited word, removed sha256, NaN weights', async () => {
      const base = await trainedRun(path.join(root, 'base'));
      const image = path.join(base, 'dataset', 'Images', 'scene_00040.png');

      const word = await copyRun(base, path.join(root, 'word'));
      await editJson(path.join(word, 'train', 'best', 'checkpoint.json'), (m) => ((m.vocab as { tokens: string[] }).tokens[4] = 'zebra'));
      expectOneLineError(
        await runCli(['eval', '--run', word, '--split', 'test']),
        /train\/best\/checkpoint\.json: checkpoint\.json was changed/,
      );
      expect(existsSync(path.join(word, 'eval'))).toBe(false);

      const unsealed = await copyRun(base, path.join(root, 'unsealed'));
      await editJson(path.join(unsealed, 'train', 'best', 'checkpoint.json'), (m) => delete m.sha256);
      // the weights, now NaN: without the hashes nothing would notice
      const weightsFile = path.join(unsealed, 'train', 'best', 'weights.bin');
      await fs.writeFile(weightsFile, Buffer.alloc((await fs.stat(weightsFile)).size, 0xff));
      const r = await runCli(['caption', '--checkpoint', path.join(unsealed, 'train', 'best'), image]);
      expectOneLineError(r, /train\/best\/checkpoint\.json: checkpoint\.json has no sha256 field \(.*retrain/);
      expect(r.stdout).toBe('');
    }, 180_000);
  });
});
