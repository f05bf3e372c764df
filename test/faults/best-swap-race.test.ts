// Readers racing `train` replacing best/ saw a false "damaged" (checkpoint.json of one version,
// weights.bin of the next), "no checkpoint here" (between the two renames of the swap) and "file
// missing". Now a read that overlapped a replacement is done again, so a reader always gets the old or
// the new checkpoint whole. A writer process replaces best/ over and over (alternating two
// checkpoints, as train does with the folder swap of src/io/atomic.ts) while this process reads it
// thousands of times: no failures, and every read is one of the two checkpoints, whole.
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/model/checkpoint.js';
import { initialWeights, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { REPO_ROOT, tempDir } from '../helpers.js';

const DIST = path.join(REPO_ROOT, 'dist');
const READS = 3000;
/** The reads stop early after this long (a slow shared machine); they must still have been many. */
const READ_BUDGET_MS = 15_000;
const sizes: MergeLstmSizes = { vocabSize: 11, embeddingSize: 4, hiddenSize: 6, featureSize: 5, dropout: 0.5 };

const WRITER = `
import { saveCheckpoint } from ${JSON.stringify(pathToFileURL(path.join(DIST, 'model', 'checkpoint.js')).href)};
import { initialWeights } from ${JSON.stringify(pathToFileURL(path.join(DIST, 'model', 'merge-lstm.js')).href)};
const [dir, sizesJson] = process.argv.slice(2);
const sizes = JSON.parse(sizesJson);
const meta = (epoch) => ({
  architecture: 'merge-lstm', ...sizes,
  vocab: { tokens: ['<pad>', '<start>', '<end>', '<unk>', ...'abcdefg'.split('')], specials: { pad: 0, start: 1, end: 2, unk: 3 }, minCount: 1 },
  cleaning: { lowercase: true },
  encoder: { architecture: 'seeded-cnn', weightsHash: 'seeded:1', layer: 'seeded-cnn', preprocess: 'unit', resize: 'squash', pooling: 'avg', inputSize: [8, 8], featureShape: [5] },
  maxCaptionLength: 9, trainConfig: {}, epoch, metrics: {}, createdAt: 'now',
});
let stop = false;
process.on('SIGTERM', () => { stop = true; });
for (let i = 0; !stop; i++) {
  const epoch = 1 + (i % 2);
  await saveCheckpoint(dir, { meta: meta(epoch), weights: initialWeights(sizes, epoch), trainImages: ['a.jpg', 'b.jpg'] });
  if (i === 0) process.stdout.write('written\\n');
  await new Promise((r) => setTimeout(r, 1)); // back to back still, but leaving the reader some turns
}
`;

describe.skipIf(!existsSync(path.join(DIST, 'model', 'checkpoint.js')))('reading best/ while train replaces it', () => {
  it(`${READS} reads during replacements: every one the old or the new checkpoint, whole`, async () => {
    const root = tempDir('capgen-race-');
    const dir = path.join(root, 'train', 'best');
    const script = path.join(root, 'writer.mjs');
    await fs.writeFile(script, WRITER);
    const writer = spawn(process.execPath, [script, dir, JSON.stringify(sizes)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => writer.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      writer.stdout.once('data', () => resolve());
      writer.once('error', reject);
      void exited.then((code) => reject(new Error(`the writer exited (${code}) before writing`)));
    });
    const expected = new Map([1, 2].map((epoch) => [epoch, initialWeights(sizes, epoch)]));
    const failures = new Map<string, number>();
    const epochsSeen = new Set<number>();
    let reads = 0;
    const started = performance.now();
    try {
      while (reads < READS && performance.now() - started < READ_BUDGET_MS) {
        reads++;
        try {
          const { meta, weights, trainImages } = await readCheckpoint(dir, { trainImages: true });
          epochsSeen.add(meta.epoch);
          const want = expected.get(meta.epoch)!;
          const whole = Object.keys(want).every((name) => weights[name]!.every((v, i) => v === want[name]![i]));
          if (!whole || trainImages?.join() !== 'a.jpg,b.jpg') failures.set('mixed versions', (failures.get('mixed versions') ?? 0) + 1);
        } catch (e) {
          const key = (e as Error).message;
          failures.set(key, (failures.get(key) ?? 0) + 1);
        }
      }
    } finally {
      writer.kill('SIGTERM');
      await exited;
    }
    expect(Object.fromEntries(failures)).toEqual({});
    expect(reads).toBeGreaterThanOrEqual(1000);
    expect([...epochsSeen].sort()).toEqual([1, 2]); // the writer really did replace it meanwhile
  }, 60_000);
});
