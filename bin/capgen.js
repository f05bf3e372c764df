#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript in dist/ (in the published package; in a checkout, `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const mainUrl = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(mainUrl))) {
  process.stderr.write(
    'capgen: dist/ is missing; run `npm run build` in the capgen checkout first (the published package ships it built).\n',
  );
  process.exit(2);
}
// `capgen caption dir | head`: a reader that closes the pipe early is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
const { main } = await import(mainUrl.href);
process.exitCode = await main(process.argv);
