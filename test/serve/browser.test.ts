// The page in a real browser: headless Chromium (Debian's package) driven by playwright-core opens the
// page at a phone size, uploads images, and sees captions, beams, errors and the recent list.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithout } from '../helpers.js';
import { fakeCaptioner } from './fake-captioner.js';
import { solidImage, startServer } from './fixtures.js';

export const CHROMIUM_PATH = process.env.CAPGEN_CHROMIUM ?? '/usr/bin/chromium';
const SKIP_CHROMIUM = skipWithout(
  existsSync(CHROMIUM_PATH),
  'Chromium',
  `${CHROMIUM_PATH} is absent (install it with: apt-get install -y chromium)`,
);

/** Flags for a headless browser in a container without a sandbox, network or GPU. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

describe.skipIf(SKIP_CHROMIUM)('capgen serve page in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  });
  afterAll(() => browser?.close());

  it('uploads an image, shows its caption and beams, lists recent uploads, and reports a bad file', async () => {
    const { url } = await startServer({ captioner: fakeCaptioner(), maxUploadBytes: 2 ** 20 });
    // A phone-sized screen (iPhone 12-ish): the layout must fit without sideways scrolling.
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const problems: string[] = [];
    // The one expected failed load is the 415 of the bad upload below.
    page.on('console', (m) => (m.type() === 'error' && !m.text().includes('status of 415') ? problems.push(m.text()) : undefined));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(url);

    // The page decodes with beam 3 by default and lists the beam's candidates, with scores, under the caption.
    expect(await page.$eval('#beam', (select) => (select as unknown as { value: string }).value)).toBe('3');
    await page.setInputFiles('#file', { name: 'red.jpg', mimeType: 'image/jpeg', buffer: await solidImage([235, 20, 20]) });
    await expect.poll(() => page.textContent('#caption')).toBe('a red image');
    expect(await page.isVisible('#preview')).toBe(true);
    expect(await page.$eval('#preview', (img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(64);
    await expect.poll(() => page.locator('#beams li').count()).toBe(3);
    expect(await page.textContent('#beams li:first-child')).toMatch(/^a red image\s*score -?\d+\.\d\d$/);
    expect(await page.textContent('#beams li:nth-child(2)')).toMatch(/^a (white|yellow|black|green|blue) image\s*score/);
    expect(await page.isVisible('#beams-title')).toBe(true);
    expect(await page.textContent('#meta')).toMatch(/beam search, 3 beams/);

    // Greedy re-captions the current image, without candidates.
    await page.selectOption('#beam', '1');
    await expect.poll(() => page.textContent('#meta')).toMatch(/greedy/);
    expect(await page.locator('#beams li').count()).toBe(0);
    expect(await page.isVisible('#beams-title')).toBe(false);

    await page.setInputFiles('#file', { name: 'blue.png', mimeType: 'image/png', buffer: await solidImage([20, 20, 235], 'png') });
    await expect.poll(() => page.textContent('#caption')).toBe('a blue image');
    // The red image appears once (its beam re-caption replaced its entry), the blue one on top.
    await expect.poll(() => page.locator('#recent li').count()).toBe(2);
    expect(await page.textContent('#recent li:first-child span')).toBe('a blue image');

    // A bad upload shows the server's message, and the page keeps working afterwards.
    await page.setInputFiles('#file', { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not an image') });
    await expect.poll(() => page.textContent('#status')).toMatch(/not an image/);
    expect(await page.getAttribute('#status', 'class')).toContain('error');

    // The recent list survives a reload (sessionStorage) and brings back an earlier answer.
    await page.reload();
    await expect.poll(() => page.locator('#recent li').count()).toBe(2);
    await page.click('#recent li:last-child');
    expect(await page.textContent('#caption')).toBe('a red image');

    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    expect(problems).toEqual([]); // includes Content-Security-Policy violations, which Chromium logs as errors
    await context.close();
  });

  it('captions an image dropped onto the page', async () => {
    const { url } = await startServer({ captioner: fakeCaptioner(), maxUploadBytes: 2 ** 20 });
    const page = await browser.newPage();
    await page.goto(url);
    const bytes = [...(await solidImage([20, 230, 20], 'png'))];
    // Build the drop event in the page, as the browser would for a file dragged from the desktop.
    // (Browser globals through globalThis: this project compiles without the DOM type library.)
    await page.evaluate((data) => {
      const web = globalThis as any; // eslint-disable-line @typescript-eslint/no-explicit-any
      const transfer = new web.DataTransfer();
      transfer.items.add(new web.File([new Uint8Array(data)], 'green.png', { type: 'image/png' }));
      web.document
        .getElementById('drop')
        .dispatchEvent(new web.DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, bytes);
    await expect.poll(() => page.textContent('#caption')).toBe('a green image');
    await page.close();
  });
});
