// `capgen export` end to end: a short synthetic run (prepare + train, as test/e2e does), exported as
// tfjs files and as the web folder; the exported files, loaded with TensorFlow.js' own loaders over
// HTTP and decoded by capgen-model.js (no capgen model code), give `capgen caption`'s captions word for
// word, greedy and beam 3: in Node, and in headless Chromium through the page's <input type="file">.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { loadCaptioner, type Captioner, type ModelManifest } from '../../src/export/web/caption-model.js';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { openOnnxExport, pixelsOf } from './exported-captioners.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH, HAS_CHROMIUM } from './chromium.js';
import { serveFolder } from './static-server.js';

// As test/e2e/pipeline.test.ts, shorter: enough for captions that differ between images.
const TRAIN_FLAGS = [
  '--epochs',
  '6',
  '--seed',
  '1',
  '--batch-size',
  '16',
  '--embedding-size',
  '64',
  '--hidden-size',
  '128',
  '--dropout',
  '0.2',
  '--lr',
  '3e-3',
];

interface CaptionJson {
  captions: { image: string; caption: string; beams?: { caption: string }[] }[];
}

describe('capgen export (tfjs, onnx, web)', () => {
  const work = tempDir('capgen-export-');
  const runDir = path.join(work, 'run');
  const tfjsDir = path.join(work, 'tfjs');
  const webDir = path.join(work, 'site');
  const onnxDir = path.join(work, 'onnx');
  let images: string[] = [];
  const expected: Record<'greedy' | 'beam', Map<string, CaptionJson['captions'][number]>> = { greedy: new Map(), beam: new Map() };
  let webStdout = '';

  beforeAll(async () => {
    const prepared = await runCli([
      'prepare',
      '--dataset',
      'synthetic',
      '--count',
      '300',
      '--seed',
      '3',
      '--out',
      runDir,
      '--encoder',
      'seeded-cnn',
    ]);
    expect(prepared.code, prepared.stderr).toBe(0);
    const trained = await runCli(['train', '--run', runDir, ...TRAIN_FLAGS], { timeoutMs: 600_000 });
    expect(trained.code, trained.stderr).toBe(0);
    const imageDir = path.join(runDir, 'dataset', 'Images');
    images = readdirSync(imageDir)
      .sort()
      .slice(0, 8)
      .map((f) => path.join(imageDir, f));
    for (const [key, beam] of [
      ['greedy', '1'],
      ['beam', '3'],
    ] as const) {
      const r = await runCli(['caption', '--checkpoint', path.join(runDir, 'train', 'best'), '--beam-size', beam, '--json', ...images]);
      expect(r.code, r.stderr).toBe(0);
      for (const c of (JSON.parse(r.stdout) as CaptionJson).captions) expected[key].set(c.image, c);
    }
    const tfjsExport = await runCli(['export', '--run', runDir, '--format', 'tfjs', '--out', tfjsDir]);
    expect(tfjsExport.code, tfjsExport.stderr).toBe(0);
    if (!SKIP_ORT) {
      const onnx = await runCli(['export', '--run', runDir, '--format', 'onnx', '--out', onnxDir]);
      expect(onnx.code, onnx.stderr).toBe(0);
    }
    const web = await runCli(['export', '--run', runDir, '--format', 'web', '--out', webDir]);
    expect(web.code, web.stderr).toBe(0);
    webStdout = web.stdout;
  }, 900_000);

  it('the model sees the images: capgen caption gives at least three different captions', () => {
    expect(new Set([...expected.greedy.values()].map((c) => c.caption)).size).toBeGreaterThanOrEqual(3);
  });

  it('writes the tfjs files and one manifest', () => {
    for (const f of [
      'capgen-model.json',
      'encoder/model.json',
      'encoder/weights.bin',
      'decoder-init/model.json',
      'decoder-step/model.json',
      'decoder-step/weights.bin',
    ]) {
      expect(existsSync(path.join(tfjsDir, f)), f).toBe(true);
    }
    const manifest = JSON.parse(readFileSync(path.join(tfjsDir, 'capgen-model.json'), 'utf8'));
    expect(manifest.decoder.architecture).toBe('merge-lstm');
    expect(manifest.image).toMatchObject({ inputSize: [64, 64], preprocess: 'unit', resize: 'squash' });
    expect(manifest.vocabulary.slice(0, 4)).toEqual(['<pad>', '<start>', '<end>', '<unk>']);
    expect(JSON.parse(readFileSync(path.join(tfjsDir, 'decoder-step/model.json'), 'utf8')).format).toBe('graph-model');
  });

  describe('in Node, with tfjs loaders over HTTP', () => {
    let captioner: Captioner;
    beforeAll(async () => {
      await initBackend('wasm'); // the backend `capgen caption` ran on (CAPGEN_BACKEND=wasm in runCli)
      captioner = await loadCaptioner(tf, await serveFolder(tfjsDir));
    });
    afterAll(() => captioner?.dispose());

    it('greedy and beam-3 captions equal capgen caption word for word', async () => {
      const before = tf.memory().numTensors;
      for (const image of images) {
        const pixels = await pixelsOf(image, captioner.manifest.image);
        expect(captioner.caption(pixels, { beamSize: 1 }).caption, image).toBe(expected.greedy.get(image)?.caption);
        const beam = captioner.caption(pixels, { beamSize: 3 });
        expect(beam.caption, image).toBe(expected.beam.get(image)?.caption);
        expect(beam.beams.map((b) => b.caption)).toEqual(expected.beam.get(image)?.beams?.map((b) => b.caption));
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  describe.skipIf(SKIP_ORT)('onnx files in ONNX Runtime', () => {
    it('writes encoder.onnx, the decoder graphs and a manifest that says so', () => {
      const manifest = JSON.parse(readFileSync(path.join(onnxDir, 'capgen-model.json'), 'utf8')) as ModelManifest;
      expect(manifest.encoder).toEqual({ path: 'encoder.onnx', format: 'onnx' });
      expect([manifest.decoder.init.path, manifest.decoder.step.path]).toEqual(['decoder-init.onnx', 'decoder-step.onnx']);
      for (const f of ['encoder.onnx', 'decoder-init.onnx', 'decoder-step.onnx']) expect(existsSync(path.join(onnxDir, f)), f).toBe(true);
    });

    it('greedy and beam-3 captions equal capgen caption word for word', async () => {
      const onnx = await openOnnxExport(onnxDir);
      for (const image of images) {
        expect((await onnx.caption(image, { beamSize: 1 })).caption, image).toBe(expected.greedy.get(image)?.caption);
        const beam = await onnx.caption(image, { beamSize: 3 });
        expect(beam.caption, image).toBe(expected.beam.get(image)?.caption);
        expect(beam.beams.map((b) => b.caption)).toEqual(expected.beam.get(image)?.beams?.map((b) => b.caption));
      }
      await onnx.release();
    });
  });

  it('web: index.html, one script, the model files, and a size budget on stdout', () => {
    expect(readdirSync(webDir).sort()).toEqual([
      'capgen-model.js',
      'capgen.js',
      'index.html',
      'model',
      'tfjs-backend-wasm-simd.wasm',
      'tfjs-backend-wasm.wasm',
    ]);
    expect(readFileSync(path.join(webDir, 'index.html'), 'utf8').match(/<script/g)).toHaveLength(1);
    expect(webStdout).toMatch(/size budget: \d+\.\d\d MB of 25\.00 MB \(within/);
  });

  describe.skipIf(!HAS_CHROMIUM)('web page in headless Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    });
    afterAll(() => browser?.close());

    it('captions three images chosen through <input type="file"> as capgen caption does, greedy and beam 3', async () => {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('console', (m) => (m.type() === 'error' ? problems.push(m.text()) : undefined));
      await page.goto(await serveFolder(webDir));
      await page.waitForSelector('body[data-ready]', { timeout: 60_000 });
      expect(await page.getAttribute('body', 'data-ready')).toBe('wasm');
      for (const [mode, beam] of [
        ['greedy', '1'],
        ['beam', '3'],
      ] as const) {
        await page.selectOption('#beam', beam);
        for (const image of images.slice(0, 3)) {
          await page.setInputFiles('#file', image);
          await page.waitForSelector('#caption[data-caption]');
          expect(await page.getAttribute('#caption', 'data-caption'), `${mode} ${image}`).toBe(expected[mode].get(image)?.caption);
        }
      }
      expect(await page.locator('#beams li').count()).toBe(3);
      expect(problems).toEqual([]);
      await page.close();
    });

    it('capgen serve --client-side serves the same page, which captions in the browser', async () => {
      const child = spawn(process.execPath, [BIN, 'serve', '--client-side', '--run', runDir, '--port', '0'], {
        env: { ...process.env, CAPGEN_BACKEND: 'wasm' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      try {
        let stderr = '';
        const url = await new Promise<string>((resolve, reject) => {
          child.stderr.on('data', (d) => {
            stderr += d;
            const m = stderr.match(/open (http:\/\/\S+\/) \(captions are computed in the browser/);
            if (m) resolve(m[1]);
          });
          child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
        });
        const served = await (await fetch(url)).text();
        expect(served).toBe(readFileSync(path.join(webDir, 'index.html'), 'utf8'));
        const page = await browser.newPage();
        const problems: string[] = [];
        page.on('pageerror', (e) => problems.push(e.message));
        page.on('console', (m) => (m.type() === 'error' ? problems.push(m.text()) : undefined)); // CSP violations included
        await page.goto(url);
        await page.waitForSelector('body[data-ready]', { timeout: 60_000 });
        await page.setInputFiles('#file', images[3]);
        await page.waitForSelector('#caption[data-caption]');
        expect(await page.getAttribute('#caption', 'data-caption')).toBe(expected.greedy.get(images[3])?.caption);
        expect(problems).toEqual([]);
        await page.close();
      } finally {
        child.kill('SIGTERM');
      }
    });
  });
});
