// Defect: exported attention and transformer models on `seeded-cnn --pooling none` captioned other
// images than `capgen caption` did, with exit 0 (the web page, `serve --client-side`, encoder.onnx):
// the exported encoder emitted the pooled layout, which the decoder graphs took as a 4x4 grid without
// complaint. Now every export format gives `capgen caption`'s captions (greedy and beam 3) and
// log-probabilities, for every decoder on every kind of encoder capgen exports, spatial and pooled:
// tfjs files through TensorFlow.js' loaders, the web folder through its own capgen-model.js, and the
// onnx files in ONNX Runtime.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { loadCaptioner, type CaptionOutput, type Captioner } from '../../src/export/web/caption-model.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH, HAS_CHROMIUM } from '../export/chromium.js';
import { openOnnxExport, pixelsOf } from '../export/exported-captioners.js';
import { serveFolder } from '../export/static-server.js';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { caseName, MODEL_CASES, modelRuns } from './export-fixtures.js';

/** Images captioned per model: a handful is enough to tell a wrong feature layout (the log-probabilities differ). */
const IMAGES = 4;
/** Log-probabilities of the same caption from other engines (ONNX Runtime, tfjs graphs) agree to float rounding. */
const LOG_PROB_TOLERANCE = 1e-3;

interface Captioned {
  image: string;
  caption: string;
  logProb: number;
  beams?: { caption: string }[];
}

type CaptionFn = (image: string, beamSize: number) => Promise<CaptionOutput>;

describe.skipIf(!existsSync(BIN))('every export captions as capgen caption does', () => {
  const root = tempDir('capgen-export-captions-');
  const trainedRun = modelRuns(root);
  let browser: Promise<Browser> | undefined;
  afterAll(async () => (await browser)?.close());

  describe.each(MODEL_CASES.map((c) => ({ ...c, name: caseName(c) })))('$name', (c) => {
    const expected: Record<'greedy' | 'beam', Map<string, Captioned>> = { greedy: new Map(), beam: new Map() };
    let images: string[] = [];
    let run = '';
    let tfjsUrl = '';
    let webUrl = '';

    beforeAll(async () => {
      run = await trainedRun(c);
      const imageDir = path.join(run, 'dataset', 'Images');
      images = readdirSync(imageDir)
        .sort()
        .slice(0, IMAGES)
        .map((f) => path.join(imageDir, f));
      for (const [mode, beam] of [
        ['greedy', '1'],
        ['beam', '3'],
      ] as const) {
        const r = await runCli(['caption', '--checkpoint', path.join(run, 'train', 'best'), '--beam-size', beam, '--json', ...images]);
        expect(r.code, r.stderr).toBe(0);
        for (const out of (JSON.parse(r.stdout) as { captions: Captioned[] }).captions) expected[mode].set(out.image, out);
      }
      for (const format of ['tfjs', 'web', ...(SKIP_ORT ? [] : ['onnx'])]) {
        const r = await runCli([
          'export',
          '--run',
          run,
          '--format',
          format,
          '--out',
          path.join(run, '..', `${path.basename(run)}-${format}`),
        ]);
        expect(r.code, r.stderr).toBe(0);
      }
      tfjsUrl = await serveFolder(`${run}-tfjs`);
      webUrl = await serveFolder(`${run}-web`);
      await initBackend('wasm'); // the backend `capgen caption` ran on (CAPGEN_BACKEND=wasm in runCli)
    }, 300_000);

    async function expectCaptionsOf(caption: CaptionFn): Promise<void> {
      for (const image of images) {
        const greedy = await caption(image, 1);
        const want = expected.greedy.get(image) as Captioned;
        expect(greedy.caption, image).toBe(want.caption);
        expect(Math.abs(greedy.logProb - want.logProb), `${image}: log-probability ${greedy.logProb} vs ${want.logProb}`).toBeLessThan(
          LOG_PROB_TOLERANCE,
        );
        const beam = await caption(image, 3);
        expect(beam.caption, image).toBe(expected.beam.get(image)?.caption);
        expect(beam.beams.map((b) => b.caption)).toEqual(expected.beam.get(image)?.beams?.map((b) => b.caption));
      }
    }

    async function withCaptioner(load: Promise<Captioner>): Promise<void> {
      const captioner = await load;
      const before = tf.memory().numTensors;
      try {
        await expectCaptionsOf(async (image, beamSize) => captioner.caption(await pixelsOf(image, captioner.manifest.image), { beamSize }));
      } finally {
        captioner.dispose();
      }
      expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
    }

    it('tfjs: the files through TensorFlow.js loaders', async () => {
      await withCaptioner(loadCaptioner(tf, tfjsUrl));
    });

    it("web: the folder's model through the folder's own capgen-model.js", async () => {
      const shipped = (await import(pathToFileURL(`${run}-web/capgen-model.js`).href)) as { loadCaptioner: typeof loadCaptioner };
      await withCaptioner(shipped.loadCaptioner(tf, `${webUrl}model/`));
    });

    // The page itself, where the spatial layout went wrong: the seeded-cnn grid (the layers model's is covered in Node).
    if (c.encoder === 'seeded-cnn' && c.pooling === 'none') {
      it.skipIf(!HAS_CHROMIUM)('web: the page in headless Chromium, greedy and beam 3', async () => {
        browser ??= chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
        const page = await (await browser).newPage();
        const problems: string[] = [];
        page.on('pageerror', (e) => problems.push(e.message));
        await page.goto(webUrl);
        await page.waitForSelector('body[data-ready]', { timeout: 60_000 });
        for (const [mode, beam] of [
          ['greedy', '1'],
          ['beam', '3'],
        ] as const) {
          await page.selectOption('#beam', beam);
          for (const image of images.slice(0, 2)) {
            await page.setInputFiles('#file', image);
            await page.waitForSelector('#caption[data-caption]');
            expect(await page.getAttribute('#caption', 'data-caption'), `${mode} ${image}`).toBe(expected[mode].get(image)?.caption);
          }
        }
        expect(problems).toEqual([]);
        await page.close();
      });
    }

    it.skipIf(SKIP_ORT)('onnx: the files in ONNX Runtime', async () => {
      const onnx = await openOnnxExport(`${run}-onnx`);
      try {
        await expectCaptionsOf((image, beamSize) => onnx.caption(image, { beamSize }));
      } finally {
        await onnx.release();
      }
    });
  });
});
