// `capgen caption` over a tiny checkpoint whose encoder is the seeded CNN: a PNG, a JPEG whose EXIF
// says "rotate 90°", a broken file and a missing one. Captions are checked against an independent
// path (sharp rotate + resize by hand -> the encoder -> decodeFeatures).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { expandInputs } from '../../src/caption/inputs.js';
import { runCaption, DEFAULT_CAPTION_CONFIG } from '../../src/caption/run.js';
import { decodeFeatures } from '../../src/decode/index.js';
import { embedPixels, loadEncoder } from '../../src/features/load-encoder.js';
import type { Encoder } from '../../src/features/encoder.js';
import { loadCheckpoint } from '../../src/engine/decoder.js';
import { runCli, tempDir } from '../helpers.js';
import { CAPTION_WORDS, writeMergeCheckpoint } from './merge-checkpoint.js';

const WORDS = CAPTION_WORDS;

/** Left half one colour, right half another: any rotation changes what the encoder sees. */
function twoTone(width: number, height: number, left: number[], right: number[]): Buffer {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) px.set(x < width / 2 ? left : right, (y * width + x) * 3);
  return px;
}

describe('capgen caption', () => {
  const root = tempDir('capgen-caption-');
  const checkpointDir = path.join(root, 'ckpt');
  const files = {
    png: path.join(root, 'scene.png'),
    exif: path.join(root, 'rotated.jpg'),
    broken: path.join(root, 'broken.jpg'),
    missing: path.join(root, 'missing.png'),
  };
  let encoder: Encoder;

  beforeAll(async () => {
    await initBackend('wasm');
    encoder = await writeMergeCheckpoint(checkpointDir);

    await sharp(twoTone(48, 32, [250, 30, 30], [20, 40, 230]), { raw: { width: 48, height: 32, channels: 3 } })
      .png()
      .toFile(files.png);
    // stored landscape, EXIF orientation 6: viewers show it rotated 90° clockwise (portrait)
    await sharp(twoTone(60, 30, [240, 240, 20], [10, 120, 10]), { raw: { width: 60, height: 30, channels: 3 } })
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toFile(files.exif);
    await fs.writeFile(files.broken, Buffer.from('\xff\xd8\xff\xe0 this is not really a JPEG'));
  });

  /** The independent path: sharp decodes (optionally applying EXIF), squashes, the encoder embeds. */
  async function expectedLogProb(file: string, applyExif: boolean, beamSize: number): Promise<number> {
    const [h, w] = encoder.identity.inputSize;
    let img = sharp(file);
    if (applyExif) img = img.rotate();
    const raw = await img.resize(w, h, { fit: 'fill', kernel: 'nearest' }).removeAlpha().raw().toBuffer();
    const features = embedPixels(encoder, [new Uint8Array(raw)], [h, w]);
    const { meta, model } = await loadCheckpoint(checkpointDir);
    try {
      const [d] = await decodeFeatures(model, [features], {
        maxLength: meta.maxCaptionLength,
        beamSize,
        lengthPenalty: 0,
        blockNgrams: DEFAULT_CAPTION_CONFIG.blockNgrams,
      });
      return d.logProb;
    } finally {
      model.dispose();
    }
  }

  it('captions a PNG and an EXIF-rotated JPEG as the recorded encoder sees them; lists broken and missing files', async () => {
    // loading and freeing the checkpoint and the encoder leave nothing; caption must add nothing either
    const beforeLoading = tf.memory().numTensors;
    (await loadCheckpoint(checkpointDir)).model.dispose();
    (await loadEncoder(encoder.identity)).dispose();
    expect(tf.memory().numTensors).toBe(beforeLoading);
    const loadingLeak = 0;
    const tensorsBefore = tf.memory().numTensors;
    const r = await runCaption({
      ...DEFAULT_CAPTION_CONFIG,
      inputs: [files.png, files.exif, files.broken, files.missing],
      checkpointDir,
      backend: 'wasm',
    });
    expect(tf.memory().numTensors - tensorsBefore).toBe(loadingLeak);
    expect(r.captions.map((c) => c.image)).toEqual([files.png, files.exif]);
    expect(r.failed.map((f) => f.path)).toEqual([files.missing, files.broken]);
    expect(r.failed[1].reason).not.toMatch(/\n/);
    expect(r.captions[0].logProb).toBeCloseTo(await expectedLogProb(files.png, false, 1), 4);
    const upright = await expectedLogProb(files.exif, true, 1);
    const ignoringExif = await expectedLogProb(files.exif, false, 1);
    expect(Math.abs(upright - ignoringExif)).toBeGreaterThan(1e-3); // orientation matters to this model
    expect(r.captions[1].logProb).toBeCloseTo(upright, 4);
    for (const c of r.captions) expect(c.caption.split(' ').every((w) => WORDS.includes(w))).toBe(true);
  });

  it('beam search returns every beam, best first', async () => {
    const r = await runCaption({ ...DEFAULT_CAPTION_CONFIG, inputs: [files.png], checkpointDir, beamSize: 3, backend: 'wasm' });
    const [c] = r.captions;
    expect(c.beams).toHaveLength(3);
    expect(c.beams![0].caption).toBe(c.caption);
    expect(c.logProb).toBeCloseTo(await expectedLogProb(files.png, false, 3), 4);
    expect(c.logProb).toBeGreaterThanOrEqual((await expectedLogProb(files.png, false, 1)) - 1e-4);
  });

  it('CLI: image<TAB>caption lines on stdout, one error line per bad file on stderr, exit code 2', async () => {
    const r = await runCli(['caption', '--checkpoint', checkpointDir, files.png, files.broken, files.exif]);
    expect(r.code).toBe(2);
    const lines = r.stdout.trim().split('\n');
    expect(lines.map((l) => l.split('\t')[0])).toEqual([files.png, files.exif]);
    expect(r.stderr).toContain(`capgen: error: ${files.broken}: `);
    expect(r.stderr).toMatch(/1 of 3 inputs could not be captioned/);
    const ok = await runCli(['caption', '--checkpoint', checkpointDir, '--json', path.join(root, '*.png')]);
    expect(ok.code, ok.stderr).toBe(0);
    const json = JSON.parse(ok.stdout);
    expect(json.captions.map((c: { image: string }) => c.image)).toEqual([files.png]);
    expect(json.captions[0].caption).toBe(lines[0].split('\t')[1]);
    expect(json.encoder).toEqual(encoder.identity);
  }, 60_000);
});

describe('caption inputs', () => {
  const dir = tempDir('capgen-inputs-');
  it('expands folders and globs to image files, sorted, once each; reports what matches nothing', async () => {
    await fs.mkdir(path.join(dir, 'sub'));
    for (const f of ['b.png', 'a.jpg', 'notes.txt', '.hidden.jpg', 'C.JPEG', 'sub/c.jpg']) await fs.writeFile(path.join(dir, f), 'x');
    const j = (...p: string[]) => path.join(dir, ...p);
    expect(await expandInputs([dir])).toEqual({ files: [j('C.JPEG'), j('a.jpg'), j('b.png')], problems: [] });
    expect((await expandInputs([j('*.jpg'), j('a.jpg'), j('*', '*.jpg')])).files).toEqual([j('a.jpg'), j('sub', 'c.jpg')]);
    expect((await expandInputs([j('[ab].*')])).files).toEqual([j('a.jpg'), j('b.png')]);
    expect((await expandInputs([j('notes.txt')])).files).toEqual([j('notes.txt')]); // named files are always tried
    const r = await expandInputs([j('*.gif'), j('nope.jpg'), j('sub')]);
    expect(r.files).toEqual([j('sub', 'c.jpg')]);
    expect(r.problems.map((p) => p.path)).toEqual([j('*.gif'), j('nope.jpg')]);
  });

  it('globs go through tinyglobby: ** across folders, {a,b} alternatives, a backslash for a literal wildcard', async () => {
    const g = path.join(dir, 'globs');
    await fs.mkdir(path.join(g, 'x', 'y'), { recursive: true });
    for (const f of ['top.jpg', 'x/mid.png', 'x/y/deep.jpg', 'x/y/.dot.jpg', 'x/y/skip.txt', 'star*.jpg', 'starry.jpg'])
      await fs.writeFile(path.join(g, f), 'x');
    const j = (...p: string[]) => path.join(g, ...p);
    expect((await expandInputs([j('**', '*.jpg')])).files).toEqual(
      [j('starry.jpg'), j('star*.jpg'), j('top.jpg'), j('x', 'y', 'deep.jpg')].sort(),
    );
    expect((await expandInputs([j('{top,x/mid}.{jpg,png}')])).files).toEqual([j('top.jpg'), j('x', 'mid.png')]);
    expect((await expandInputs([j('star\\*.jpg')])).files).toEqual([j('star*.jpg')]);
    expect((await expandInputs([j('star*.jpg')])).files).toEqual([j('star*.jpg')]); // an existing name is taken as named
    expect((await expandInputs([j('**', '*.gif')])).problems.map((p) => p.path)).toEqual([j('**', '*.gif')]);
  });
});
