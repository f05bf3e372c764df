// Runs once per `vitest run`, in the main process: notes that concern the whole run are printed here,
// once, instead of once per test file (every file imports test/helpers.ts).
import { HAS_SHARED, SHARED_DIR } from './shared-data.js';

export default function setup(): void {
  if (!HAS_SHARED) process.stderr.write(`note: ${SHARED_DIR} is absent: tests that need real Flickr8k data are skipped\n`);
}
