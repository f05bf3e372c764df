// The headless Chromium of the export tests (Debian's package, as test/serve/browser.test.ts; CI installs it).
import { existsSync } from 'node:fs';

export const CHROMIUM_PATH = process.env.CAPGEN_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
export const HAS_CHROMIUM = existsSync(CHROMIUM_PATH);
if (!HAS_CHROMIUM)
  process.stderr.write(`note: ${CHROMIUM_PATH} is absent: the browser tests of capgen export are skipped (apt-get install -y chromium)\n`);
