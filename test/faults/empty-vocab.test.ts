// `prepare --min-count 1000000` wrote an empty vocabulary (only the four specials) with exit 0, and
// eval and caption then died with a TypeError. Now prepare refuses it (exit 2, with a hint to lower
// --min-count) before computing any feature, and train, eval and caption refuse a vocabulary without
// words with one line naming the file.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckpoint, saveCheckpoint } from '../../src/model/checkpoint.js';
import { decoderFor } from '../../src/model/registry.js';
import { SPECIAL_TOKENS } from '../../src/run/formats.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { copyRun, expectOneLineError, SCENES, SMALL_TRAIN, trainedRun } from './fixtures.js';

const SPECIALS = Object.values(SPECIAL_TOKENS);

describe.skipIf(!existsSync(BIN))('an empty vocabulary', () => {
  const root = tempDir('capgen-vocab-');

  it('prepare --min-count 1000000: exit 2 with a hint, nothing written', async () => {
    const out = path.join(root, 'prepared');
    const r = await runCli(['prepare', '--dataset', 'synthetic', '--count', SCENES, '--seed', '1', '--out', out, '--min-count', '1000000']);
    expectOneLineError(
      r,
      /--min-count 1000000 leaves no word in the vocabulary: the most frequent training word \('\w+'\) occurs \d+ times \(lower --min-count/,
    );
    expect(existsSync(path.join(out, 'vocab.json'))).toBe(false);
    expect(existsSync(path.join(out, 'features'))).toBe(false);
  }, 120_000);

  it('train, eval and caption on a vocabulary without words: one line naming the file, exit 2', async () => {
    const base = await trainedRun(path.join(root, 'base'));
    const run = await copyRun(base, path.join(root, 'empty'));
    // a run prepared by a capgen that let it through
    const vocabFile = path.join(run, 'vocab.json');
    const vocab = JSON.parse(await fs.readFile(vocabFile, 'utf8'));
    await fs.writeFile(vocabFile, JSON.stringify({ ...vocab, tokens: SPECIALS }));
    const untrained = await copyRun(run, path.join(root, 'empty-untrained'));
    await fs.rm(path.join(untrained, 'train'), { recursive: true });
    expectOneLineError(
      await runCli(['train', '--run', untrained, '--epochs', '1', ...SMALL_TRAIN]),
      /vocab\.json: the vocabulary has no words, only <pad> <start> <end> <unk> \(.*lower --min-count/,
    );
    // ... and a checkpoint trained on it
    const best = path.join(run, 'train', 'best');
    const { meta } = await readCheckpoint(best);
    const { sha256: _s, contentSha256: _c, trainSplit: _t, weights: _w, format: _f, ...rest } = meta;
    const emptyMeta = { ...rest, vocab: { ...meta.vocab, tokens: SPECIALS }, vocabSize: SPECIALS.length };
    const spec = decoderFor(meta.architecture)!;
    await saveCheckpoint(best, {
      meta: emptyMeta,
      weights: spec.initialWeights(spec.sizesFrom(emptyMeta as unknown as Record<string, unknown>), 1),
    });
    expectOneLineError(await runCli(['eval', '--run', run, '--split', 'test']), /best\/checkpoint\.json: the vocabulary has no words/);
    const image = path.join(run, 'dataset', 'Images', 'scene_00040.png');
    expectOneLineError(await runCli(['caption', '--checkpoint', best, image]), /best\/checkpoint\.json: the vocabulary has no words/);
  }, 180_000);
});
