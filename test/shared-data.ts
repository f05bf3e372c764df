// Where the real data beside the checkout is (developers and CI have it; a user's fresh clone does not).
// CAPGEN_TEST_SHARED_DIR points elsewhere (test/harness/shared-note.test.ts uses it to test the note).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SHARED_DIR = path.resolve(
  process.env.CAPGEN_TEST_SHARED_DIR ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared'),
);
export const HAS_SHARED = existsSync(path.join(SHARED_DIR, 'data', 'flickr8k'));
