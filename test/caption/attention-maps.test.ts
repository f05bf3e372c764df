// `capgen caption --attention-maps DIR` with a toy attending decoder on a tiny spatial encoder
// (8x8 regions): one PNG per image that decodes at the expected size, heat where the attention is,
// word labels drawn; a clear exit-2 error for a decoder that does not attend.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import {
  figureLayout,
  GAP,
  HEADER_HEIGHT,
  LABEL_HEIGHT,
  MAX_COLUMNS,
  PANEL_WIDTH,
  renderAttentionPng,
} from '../../src/caption/attention-png.js';
import { DEFAULT_CAPTION_CONFIG, mapFileNames, runCaption } from '../../src/caption/run.js';
import { decodeFeatures } from '../../src/decode/index.js';
import { embedImageFiles, loadEncoder } from '../../src/features/load-encoder.js';
import { loadCheckpoint } from '../../src/engine/decoder.js';
import { Vocabulary } from '../../src/text/vocabulary.js';
import { writeAttendingCheckpoints } from '../decode/attending-checkpoint.js';
import { runCli, tempDir } from '../helpers.js';

/** Expected PNG size, from the layout rules written out independently of figureLayout. */
function expectedSize(words: number, panelHeight: number): { width: number; height: number } {
  const panels = words + 1;
  const columns = Math.min(MAX_COLUMNS, panels);
  const rows = Math.ceil(panels / columns);
  return {
    width: columns * PANEL_WIDTH + (columns + 1) * GAP,
    height: HEADER_HEIGHT + rows * (panelHeight + LABEL_HEIGHT) + (rows + 1) * GAP,
  };
}

describe('capgen caption --attention-maps', () => {
  const root = tempDir('capgen-attention-maps-');
  let attendingDir: string;
  let mergeDir: string;
  const mapsDir = path.join(root, 'maps');
  const images = {
    wide: path.join(root, 'wide.png'),
    tall: path.join(root, 'photos', 'tall.jpg'),
    twin: path.join(root, 'other', 'wide.png'),
  };

  beforeAll(async () => {
    await initBackend('wasm');
    ({ attendingDir, mergeDir } = await writeAttendingCheckpoints(root, { resize: 'squash' }));
    // three different scenes: a bright gradient, a dark one, a bright square on black
    const scene = (width: number, height: number, colour: (x: number, y: number) => number[]) => {
      const px = Buffer.alloc(width * height * 3);
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) px.set(colour(x / width, y / height), (y * width + x) * 3);
      return sharp(px, { raw: { width, height, channels: 3 } });
    };
    await fs.mkdir(path.dirname(images.tall), { recursive: true });
    await fs.mkdir(path.dirname(images.twin), { recursive: true });
    await scene(48, 32, (x, y) => [255 * x, 255 * y, 200])
      .png()
      .toFile(images.wide);
    await scene(30, 60, (x, y) => [40 * y, 20, 60 * x])
      .jpeg()
      .toFile(images.tall);
    await scene(40, 40, (x, y) => (x > 0.5 && y < 0.5 ? [255, 255, 255] : [0, 0, 0]))
      .png()
      .toFile(images.twin);
  });

  it('writes one PNG per image, of the size its words and shape give; adds no tensors', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const inputs = [images.wide, images.tall, images.twin];
    const r = await runCaption({
      ...DEFAULT_CAPTION_CONFIG,
      inputs,
      checkpointDir: attendingDir,
      backend: 'wasm',
      attentionMapsDir: mapsDir,
    });
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(r.failed).toEqual([]);
    expect(r.captions.map((c) => c.attentionMap)).toEqual([
      path.join(mapsDir, 'wide-attention.png'),
      path.join(mapsDir, 'tall-attention.png'),
      path.join(mapsDir, 'wide-2-attention.png'),
    ]);
    expect((await fs.readdir(mapsDir)).sort()).toEqual(['tall-attention.png', 'wide-2-attention.png', 'wide-attention.png']);
    // panel heights: the image's own shape (squash: the grid covers the whole image)
    const panelHeights = [Math.round((PANEL_WIDTH * 32) / 48), Math.round((PANEL_WIDTH * 60) / 30), PANEL_WIDTH];
    expect(new Set(r.captions.map((c) => c.caption.split(' ').length)).size).toBeGreaterThan(1);
    for (const [i, c] of r.captions.entries()) {
      const words = c.caption === '' ? 0 : c.caption.split(' ').length;
      const meta = await sharp(c.attentionMap!).metadata();
      expect(meta.format).toBe('png');
      expect({ width: meta.width, height: meta.height }).toEqual(expectedSize(words, panelHeights[i]));
    }
  });

  it('paints each word where its attention is, and labels it', async () => {
    const image = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 128, g: 128, b: 128 } } })
      .png()
      .toBuffer();
    // word 1 looks at the top-left region of a 2x2 grid, word 2 at the bottom-right one
    const weights = [
      [0.97, 0.01, 0.01, 0.01],
      [0.01, 0.01, 0.01, 0.97],
    ];
    const png = await renderAttentionPng({
      image,
      caption: 'a dog',
      words: ['a', 'dog'],
      weights,
      grid: [2, 2],
      encoder: { resize: 'squash', inputSize: [16, 16] },
    });
    const layout = figureLayout(2, 1);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([layout.width, layout.height]);
    const pixel = (x: number, y: number) =>
      Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
    const panel = (p: number) => ({ left: GAP + p * (PANEL_WIDTH + GAP), top: HEADER_HEIGHT + GAP });
    const redness = ([r, , b]: number[]) => r - b;
    const q = Math.round(PANEL_WIDTH / 4);
    for (const [p, hot, cold] of [
      [1, [q, q], [3 * q, 3 * q]],
      [2, [3 * q, 3 * q], [q, q]],
    ] as const) {
      const { left, top } = panel(p);
      expect(redness(pixel(left + hot[0], top + hot[1]))).toBeGreaterThan(redness(pixel(left + cold[0], top + cold[1])) + 100);
    }
    // the plain image panel is untouched grey
    expect(pixel(panel(0).left + q, panel(0).top + q)).toEqual([128, 128, 128]);
    // each label strip holds dark text pixels
    for (const p of [0, 1, 2]) {
      const { left, top } = panel(p);
      let dark = 0;
      for (let y = top + layout.panelHeight; y < top + layout.panelHeight + LABEL_HEIGHT; y++)
        for (let x = left; x < left + PANEL_WIDTH; x++) if (pixel(x, y)[0] < 100) dark++;
      expect(dark).toBeGreaterThan(10);
    }
  });

  it('the words in the PNG come from the decoded attention: same captions as an independent decoding', async () => {
    const { meta, model } = await loadCheckpoint(attendingDir);
    const encoder = await loadEncoder(meta.encoder);
    try {
      const files = [images.wide, images.tall];
      const { features } = await embedImageFiles(encoder, files);
      const decoded = await decodeFeatures(
        model,
        files.map((f) => features.get(f)!),
        {
          maxLength: meta.maxCaptionLength,
          beamSize: 2,
          lengthPenalty: DEFAULT_CAPTION_CONFIG.lengthPenalty,
          featureShape: [64, 4],
          attention: { grid: [8, 8] },
        },
      );
      const r = await runCaption({
        ...DEFAULT_CAPTION_CONFIG,
        inputs: files,
        checkpointDir: attendingDir,
        beamSize: 2,
        backend: 'wasm',
        attentionMapsDir: path.join(root, 'maps-beam'),
      });
      const vocab = Vocabulary.fromFile(meta.vocab);
      expect(r.captions.map((c) => c.caption)).toEqual(decoded.map((d) => vocab.decode(d.tokens).join(' ')));
      for (const d of decoded) for (const row of d.attention!) expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
    } finally {
      model.dispose();
      encoder.dispose();
    }
  });

  it("for a centre-cropping encoder, panels show the crop it saw: the encoder input's shape", async () => {
    // a wide image, left half red and right half blue; a square crop keeps its middle half
    const px = Buffer.alloc(80 * 20 * 3);
    for (let i = 0; i < 80 * 20; i++) px.set(i % 80 < 40 ? [255, 0, 0] : [0, 0, 255], i * 3);
    const image = await sharp(px, { raw: { width: 80, height: 20, channels: 3 } })
      .png()
      .toBuffer();
    const fig = { image, caption: 'a', words: ['a'], weights: [[0.25, 0.25, 0.25, 0.25]], grid: [2, 2] as [number, number] };
    const squash = await sharp(await renderAttentionPng({ ...fig, encoder: { resize: 'squash', inputSize: [16, 16] } })).metadata();
    expect(squash.height).toBe(expectedSize(1, Math.round(PANEL_WIDTH / 3)).height); // 4:1 shown as 3:1 at most
    const png = await renderAttentionPng({ ...fig, encoder: { resize: 'crop', inputSize: [16, 16] } });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect({ width: info.width, height: info.height }).toEqual(expectedSize(1, PANEL_WIDTH));
    // the image panel: red on its left edge, blue on its right edge (the crop's two halves)
    const at = (x: number, y: number) =>
      Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
    const top = HEADER_HEIGHT + GAP + 100;
    expect(at(GAP + 5, top)).toEqual([255, 0, 0]);
    expect(at(GAP + PANEL_WIDTH - 5, top)).toEqual([0, 0, 255]);
  });

  it('names files without clobbering inputs, and repeats get a number', () => {
    expect(mapFileNames(['x/a.jpg', 'y/a.png', 'A.JPG', 'b'])).toEqual([
      'a-attention.png',
      'a-2-attention.png',
      'A-3-attention.png',
      'b-attention.png',
    ]);
  });

  it('CLI: a decoder without attention is one line naming it, exit code 2, nothing written', async () => {
    const out = path.join(root, 'maps-merge');
    const r = await runCli(['caption', '--checkpoint', mergeDir, '--attention-maps', out, images.wide]);
    expect(r.code).toBe(2);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('capgen: error'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/merge-lstm decoder does not attend/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(r.stdout).toBe('');
    await expect(fs.stat(out)).rejects.toThrow();
  }, 60_000);
});
