// capgen serve with attention maps: the API answers an attending model's captions with each word's
// weights over the regions (a distribution each), a merge model's without; the page shows a word's
// map over the preview while the pointer is on the word.
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { startServe } from '../../src/serve/run.js';
import type { Captioner } from '../../src/serve/types.js';
import { writeAttendingCheckpoints } from '../decode/attending-checkpoint.js';
import { tempDir } from '../helpers.js';
import { imageForm, postCaption, startServer } from './fixtures.js';

const CHROMIUM_PATH = process.env.CAPGEN_CHROMIUM ?? '/usr/bin/chromium';
/** As browser.test.ts: a headless browser in a container without a sandbox, network or GPU. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

interface Answer {
  caption: string;
  beams?: { caption: string }[];
  attention?: { grid: number[]; words: string[]; weights: number[][]; resize: string; inputSize: number[] };
}

/** A bright square on black: the attending toy model gives it a caption of several words. */
async function squareImage(): Promise<Buffer> {
  const px = Buffer.alloc(40 * 40 * 3);
  for (let y = 0; y < 40; y++)
    for (let x = 0; x < 40; x++) if (x / 40 > 0.5 && y / 40 < 0.5) px.fill(255, (y * 40 + x) * 3, (y * 40 + x) * 3 + 3);
  return sharp(px, { raw: { width: 40, height: 40, channels: 3 } })
    .png()
    .toBuffer();
}

describe('serve API with attention', () => {
  const root = tempDir('capgen-serve-attention-');
  let dirs: Awaited<ReturnType<typeof writeAttendingCheckpoints>>;

  beforeAll(async () => {
    await initBackend('wasm');
    dirs = await writeAttendingCheckpoints(root, { resize: 'squash' });
  });

  it("returns an attending model's maps, one distribution per word, greedy and beam; no tensors left", async () => {
    const server = await startServe({
      runDir: root,
      checkpoint: dirs.attendingDir,
      host: '127.0.0.1',
      port: 0,
      maxUploadMb: 1,
      backend: 'wasm',
      lengthPenalty: 0,
      blockNgrams: 2,
    });
    try {
      const image = await squareImage();
      await postCaption(server.url, imageForm(image, { type: 'image/png' })); // warm-up
      const before = tf.memory().numTensors;
      for (const beam of ['1', '3']) {
        const res = await postCaption(server.url, imageForm(image, { type: 'image/png', beam }));
        expect(res.status).toBe(200);
        const body = res.body as unknown as Answer;
        if (beam === '1') expect(body.caption.split(' ').length).toBeGreaterThan(1); // beam 3 prefers a shorter caption here
        const a = body.attention!;
        expect(a.grid).toEqual([8, 8]);
        expect([a.resize, a.inputSize]).toEqual(['squash', [16, 16]]);
        expect(a.words.join(' ')).toBe(body.caption);
        expect(a.weights).toHaveLength(a.words.length);
        for (const row of a.weights) {
          expect(row).toHaveLength(64);
          expect(Math.abs(row.reduce((x, y) => x + y, 0) - 1)).toBeLessThan(1e-5);
        }
        if (beam === '3') expect(body.beams![0].caption).toBe(body.caption);
      }
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await server.close();
    }
  });

  it("answers a merge model's captions without maps", async () => {
    const server = await startServe({
      runDir: root,
      checkpoint: dirs.mergeDir,
      host: '127.0.0.1',
      port: 0,
      maxUploadMb: 1,
      backend: 'wasm',
      lengthPenalty: 0,
      blockNgrams: 2,
    });
    try {
      const res = await postCaption(server.url, imageForm(await squareImage(), { type: 'image/png' }));
      expect(res.status).toBe(200);
      expect(res.body).not.toHaveProperty('attention');
    } finally {
      await server.close();
    }
  });
});

/** Word k looks at region k of a 2x2 grid (a, red, image -> top-left, top-right, bottom-left). */
function mapCaptioner(resize: 'squash' | 'crop'): Captioner {
  const peaked = (k: number) => [0, 1, 2, 3].map((r) => (r === k ? 0.91 : 0.03));
  return {
    async caption() {
      return {
        caption: 'a red image',
        attention: { grid: [2, 2], words: ['a', 'red', 'image'], weights: [0, 1, 2].map(peaked), resize, inputSize: [16, 16] },
      };
    },
    describe: () => ({ model: 'maps test', encoder: 'test', backend: 'test' }),
  };
}

describe.skipIf(!existsSync(CHROMIUM_PATH))("serve page: a word's map on hover", () => {
  it('shows the map of the word under the pointer over the part of the image the encoder saw', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    try {
      for (const resize of ['squash', 'crop'] as const) {
        const { url } = await startServer({ captioner: mapCaptioner(resize), maxUploadBytes: 2 ** 20 });
        const page = await browser.newPage({ viewport: { width: 900, height: 800 } });
        const problems: string[] = [];
        page.on('pageerror', (e) => problems.push(e.message));
        await page.goto(url);
        // a wide image: squash covers all of it, a square crop only its middle
        const wide = await sharp({ create: { width: 120, height: 60, channels: 3, background: { r: 90, g: 90, b: 90 } } })
          .png()
          .toBuffer();
        await page.setInputFiles('#file', { name: 'wide.png', mimeType: 'image/png', buffer: wide });
        await expect.poll(() => page.locator('#caption .word').count()).toBe(3);
        expect(await page.isHidden('#heat')).toBe(true);
        await page.hover('#caption .word:nth-child(2)'); // "red": the top-right region
        expect(await page.isVisible('#heat')).toBe(true);
        const heat = (await page.locator('#heat').boundingBox())!;
        const img = (await page.locator('#preview').boundingBox())!;
        // the preview shows the 2:1 image letterboxed in its box; the map covers its shown part
        const shownH = Math.min(img.height, img.width / 2);
        const shownW = shownH * 2;
        expect(heat.height).toBeCloseTo(shownH, 0);
        expect(heat.width).toBeCloseTo(resize === 'squash' ? shownW : shownH, 0);
        expect(heat.x + heat.width / 2).toBeCloseTo(img.x + img.width / 2, 0);
        // the canvas holds the word's row: its hottest pixel is the top-right one
        const alphas = await page.$eval('#heat', (c) => {
          const canvas = c as unknown as {
            width: number;
            height: number;
            getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
          };
          const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          return [0, 1, 2, 3].map((i) => d[i * 4 + 3]);
        });
        expect(alphas.indexOf(Math.max(...alphas))).toBe(1);
        await page.mouse.move(0, 0);
        expect(await page.isHidden('#heat')).toBe(true);
        expect(problems).toEqual([]);
        await page.close();
      }
    } finally {
      await browser.close();
    }
  }, 60_000);
});
