// The serve page's time to caption a photo, as a visitor sees it: `capgen serve` in its own process,
// Debian's Chromium (headless, through playwright-core, as test/serve/browser.test.ts drives it) uploads
// a JPEG and waits for the caption; greedy and beam 3, a warm-up first, then the median of 5 uploads.
// Needs a trained run: CAPGEN_BENCH_RUN=<run folder> [CAPGEN_BENCH_IMAGE=<jpeg>] npm run bench -- serve-page
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runDir = process.env.CAPGEN_BENCH_RUN;
const chromiumPath = process.env.CAPGEN_CHROMIUM ?? '/usr/bin/chromium';
if (!runDir || !existsSync(path.join(runDir, 'train', 'best', 'checkpoint.json')) || !existsSync(chromiumPath)) {
  console.log(`serve-page: skipped (needs CAPGEN_BENCH_RUN=<a trained run folder> and ${chromiumPath})`);
  process.exit(0);
}
const UPLOADS = 5;
const image = await sharp(
  process.env.CAPGEN_BENCH_IMAGE ?? path.join(root, '..', 'shared', 'data', 'flickr8k-originals', '1001773457_577c3a7d70.jpg'),
)
  .resize(500, 375, { fit: 'fill' })
  .jpeg({ quality: 90 })
  .toBuffer();

const server = spawn(process.execPath, [path.join(root, 'bin', 'capgen.js'), 'serve', '--run', runDir, '--port', '0'], {
  stdio: ['ignore', 'ignore', 'pipe'],
});
let log = '';
const url = await new Promise((resolve, reject) => {
  server.stderr.on('data', (d) => {
    log += d;
    const m = /open (http:\/\/\S+?)\/ /.exec(log);
    if (m) resolve(m[1]);
  });
  server.on('close', () => reject(new Error(`capgen serve exited:\n${log}`)));
});
console.log(
  log
    .split('\n')
    .filter((l) => /backend|model:/.test(l))
    .join('\n'),
);

const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  await page.goto(url);
  let n = 0;
  for (const beam of ['1', '3']) {
    await page.goto(url); // no current image: choosing the decoding sends nothing
    await page.selectOption('#beam', beam);
    const pageMs = [];
    const serverMs = [];
    for (let i = 0; i <= UPLOADS; i++) {
      const started = performance.now();
      await page.setInputFiles('#file', { name: `photo-${n++}.jpg`, mimeType: 'image/jpeg', buffer: image });
      await page.waitForFunction(() => / ms · /.test(document.getElementById('meta').textContent), undefined, { polling: 5 });
      const elapsed = performance.now() - started;
      const meta = await page.textContent('#meta');
      if (i === 0) continue; // warm-up: kernels compiled, weights resident
      pageMs.push(elapsed);
      serverMs.push(Number(/ (\d+) ms · /.exec(meta)[1]));
      if (i === UPLOADS)
        console.log(`${beam === '1' ? 'greedy' : `beam ${beam}`}: "${await page.textContent('#caption')}" (${meta.split(' · ')[0]})`);
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(
      `  page (upload to caption shown): median ${median(pageMs).toFixed(0)} ms of ${pageMs.map((x) => x.toFixed(0)).join(', ')}; server elapsedMs median ${median(serverMs)}`,
    );
  }
} finally {
  await browser.close();
  server.kill('SIGINT');
}
