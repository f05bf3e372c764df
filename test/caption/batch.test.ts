// `capgen caption --out FILE.jsonl --shard I/N --list FILE` (the built CLI): shards together give what one
// process gives, a torn last line is cut and the rest resumed, kill -9 then a rerun leaves each image once,
// and bad --shard values or a foreign --out file are one-line errors with exit code 2.
import { spawn } from 'node:child_process';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { shardOwns } from '../../src/util/shard.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { writeMergeCheckpoint } from './merge-checkpoint.js';

interface Line {
  image: string;
  caption?: string;
  logProb?: number;
  error?: string;
}

const readLines = (file: string): Line[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
const byImage = (lines: Line[]) => [...lines].sort((a, b) => a.image.localeCompare(b.image));
/** What must agree between runs: the caption, and logProb to float rounding. */
const comparable = (lines: Line[]) =>
  byImage(lines).map((l) => ({ image: l.image, caption: l.caption, error: l.error, logProb: l.logProb?.toFixed(3) }));

describe('capgen caption --out / --shard / --list', () => {
  const root = tempDir('capgen-caption-batch-');
  const checkpointDir = path.join(root, 'ckpt');
  const listFile = path.join(root, 'list.txt');
  const images: string[] = [];
  let oneProcess: Line[];

  beforeAll(async () => {
    await initBackend('wasm');
    (await writeMergeCheckpoint(checkpointDir)).dispose();
    await fs.mkdir(path.join(root, 'photos'));
    for (let k = 0; k < 24; k++) {
      const file = path.join(root, 'photos', `p${String(k).padStart(2, '0')}.png`);
      await sharp({
        create: { width: 20, height: 16, channels: 3, background: { r: (k * 37) % 256, g: (k * 91) % 256, b: (k * 53) % 256 } },
      })
        .png()
        .toFile(file);
      images.push(file);
    }
    await fs.writeFile(path.join(root, 'photos', 'broken.png'), 'not an image');
    images.push(path.join(root, 'photos', 'broken.png'));
    await fs.writeFile(listFile, `${images.join('\n')}\n\n`);
    const r = await runCli([
      'caption',
      '--checkpoint',
      checkpointDir,
      '--list',
      listFile,
      '--out',
      path.join(root, 'all.jsonl'),
      '--batch-size',
      '4',
    ]);
    expect(r.code).toBe(2); // the broken image
    expect(r.stderr).toContain(`capgen: error: ${images[24]}: `);
    oneProcess = readLines(path.join(root, 'all.jsonl'));
  }, 120_000);

  it('one process: one line per image (the broken one with its error), in list order', () => {
    expect(oneProcess.map((l) => l.image)).toEqual(images);
    expect(oneProcess.slice(0, 24).every((l) => typeof l.caption === 'string' && typeof l.logProb === 'number')).toBe(true);
    expect(oneProcess[24]!.error).toBeTruthy();
    expect(new Set(oneProcess.slice(0, 24).map((l) => l.caption)).size).toBeGreaterThan(1); // the images are told apart
  });

  it('two shards (given the folder; the one-process run had --list) together equal the one-process run, each image in exactly one', async () => {
    const outs = [0, 1].map((i) => path.join(root, `shard-${i}.jsonl`));
    const runs = await Promise.all(
      outs.map((out, i) =>
        runCli([
          'caption',
          '--checkpoint',
          checkpointDir,
          path.join(root, 'photos'),
          '--shard',
          `${i}/2`,
          '--out',
          out,
          '--batch-size',
          '4',
        ]),
      ),
    );
    const [a, b] = outs.map(readLines);
    expect(a!.length).toBeGreaterThan(0);
    expect(b!.length).toBeGreaterThan(0);
    expect(a!.every((l) => shardOwns(l.image, { index: 0, count: 2 }))).toBe(true);
    expect(b!.every((l) => shardOwns(l.image, { index: 1, count: 2 }))).toBe(true);
    expect(comparable([...a!, ...b!])).toEqual(comparable(oneProcess));
    // exit code 2 only for the shard that owned the broken image
    expect(runs.map((r) => r.code).sort()).toEqual([0, 2]);
  }, 120_000);

  it('a torn last line is cut and the run goes on from the images already written, without duplicates', async () => {
    const out = path.join(root, 'torn.jsonl');
    const whole = readFileSync(path.join(root, 'all.jsonl'), 'utf8').split('\n');
    await fs.writeFile(out, `${whole.slice(0, 5).join('\n')}\n${whole[5]!.slice(0, 20)}`);
    const r = await runCli(['caption', '--checkpoint', checkpointDir, '--list', listFile, '--out', out, '--json']);
    expect(r.stderr).toMatch(/cut a torn last line \(20 bytes\)/);
    expect(JSON.parse(r.stdout)).toMatchObject({ captioned: 19, failed: 1, alreadyDone: 5 });
    expect(comparable(readLines(out))).toEqual(comparable(oneProcess));
  }, 60_000);

  it('kill -9 in the middle, then a rerun: every image exactly once', async () => {
    const out = path.join(root, 'killed.jsonl');
    const child = spawn(
      process.execPath,
      [BIN, 'caption', '--checkpoint', checkpointDir, '--list', listFile, '--out', out, '--batch-size', '1'],
      { env: { ...process.env, CAPGEN_BACKEND: 'wasm' }, stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    // kill as soon as a few lines are there (a kill between lines or within one: both must be handled)
    for (let waited = 0; waited < 60_000; waited += 20) {
      if (existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 3) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    const before = readLines(out).length;
    expect(before).toBeLessThan(images.length); // it was stopped before the end
    const r = await runCli(['caption', '--checkpoint', checkpointDir, '--list', listFile, '--out', out, '--json']);
    expect(JSON.parse(r.stdout).alreadyDone).toBe(before);
    const lines = readLines(out);
    expect(lines.map((l) => l.image).sort()).toEqual([...images].sort());
    expect(comparable(lines)).toEqual(comparable(oneProcess));
  }, 120_000);

  it('bad --shard values, no inputs at all, and an --out file that is not caption output: one line, exit 2', async () => {
    for (const bad of ['3/3', '-1/2', '0/0', 'two']) {
      const r = await runCli(['caption', '--checkpoint', checkpointDir, images[0]!, '--shard', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^capgen: error: --shard/);
    }
    const none = await runCli(['caption', '--checkpoint', checkpointDir]);
    expect([none.code, none.stderr]).toEqual([2, expect.stringMatching(/no images to caption/)]);
    const foreign = path.join(root, 'notes.jsonl');
    await fs.writeFile(foreign, '{"image": "a.png", "caption": "x"}\nhello\n{"image": "b.png"}\n');
    const r = await runCli(['caption', '--checkpoint', checkpointDir, images[0]!, '--out', foreign]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${foreign}:2: not a line of a caption output`);
    expect(readFileSync(foreign, 'utf8')).toBe('{"image": "a.png", "caption": "x"}\nhello\n{"image": "b.png"}\n'); // untouched
  }, 60_000);
});
