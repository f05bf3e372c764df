// The web export with the real MobileNet encoder (../shared): its size against the budget, and the time
// the page takes in headless Chromium (WASM) to caption a 500x375 JPEG, from <input type="file"> to the
// caption on screen (decode, resize, MobileNet, greedy decoding). The decoder is trained for one epoch
// on a few synthetic scenes: the caption's quality is not the point, the work per image is.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { HAS_SHARED, runCli, SHARED_DIR, tempDir } from '../helpers.js';
import { serveFolder } from './static-server.js';

const CHROMIUM_PATH = process.env.CAPGEN_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const MOBILENET = path.join(SHARED_DIR, 'models', 'mobilenet_v1_1.0_224_features', 'model.json');
const JPEG_500x375 = path.join(SHARED_DIR, 'data', 'flickr8k-originals', '1001773457_577c3a7d70.jpg');
const READY = HAS_SHARED && existsSync(CHROMIUM_PATH);
if (!READY) process.stderr.write('note: the MobileNet web export timing needs ../shared and Chromium: skipped\n');

describe.skipIf(!READY)('web export with MobileNet', () => {
  it('stays within the size budget and captions a 500x375 JPEG in the browser', async () => {
    const work = tempDir('capgen-web-mobilenet-');
    const run = path.join(work, 'run');
    const prepared = await runCli([
      'prepare',
      '--dataset',
      'synthetic',
      '--count',
      '48',
      '--seed',
      '2',
      '--out',
      run,
      '--encoder',
      MOBILENET,
      '--preprocess',
      'tf',
    ]);
    expect(prepared.code, prepared.stderr).toBe(0);
    // The Keras tutorial's decoder sizes (the default), so that the decoder's share of the budget is real apart from the vocabulary.
    const trained = await runCli(['train', '--run', run, '--epochs', '1', '--batch-size', '16']);
    expect(trained.code, trained.stderr).toBe(0);
    const site = path.join(work, 'site');
    const exported = await runCli(['export', '--run', run, '--format', 'web', '--out', site]);
    expect(exported.code, exported.stderr).toBe(0);
    const budget = exported.stdout.match(/size budget: ([\d.]+) MB of 25\.00 MB \(within/);
    expect(budget, exported.stdout + exported.stderr).not.toBeNull();

    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(await serveFolder(site));
      await page.waitForSelector('body[data-ready]', { timeout: 120_000 });
      const times: number[] = [];
      // The first image pays for WASM kernels' warm-up; the next ones are what a visitor waits each time.
      for (let i = 0; i < 3; i++) {
        await page.setInputFiles('#file', JPEG_500x375);
        await page.waitForSelector('#caption[data-caption]', { timeout: 60_000 });
        expect((await page.getAttribute('#caption', 'data-caption'))?.length).toBeGreaterThan(0);
        times.push(Number(await page.getAttribute('#caption', 'data-elapsed-ms')));
      }
      process.stderr.write(
        `web export (MobileNet + merge): ${budget?.[1]} MB; 500x375 JPEG captioned in ${times.map((t) => `${t.toFixed(0)} ms`).join(', ')} (first, then warm) on ${await page.getAttribute('body', 'data-ready')}\n`,
      );
      expect(times.every((t) => t > 0)).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 600_000);
});
