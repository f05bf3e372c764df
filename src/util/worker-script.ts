// Where a worker thread's compiled script is: next to the calling module in dist/, or, when the
// caller runs from TypeScript sources (vitest), the same path under dist/ (built by `npm test`).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** callerUrl = import.meta.url of a module in src/<area>/ or dist/<area>/; name = 'x-worker.js'. */
export function workerScript(callerUrl: string, name: string): string {
  const here = path.dirname(fileURLToPath(callerUrl));
  const sibling = path.join(here, name);
  if (existsSync(sibling)) return sibling;
  const srcRoot = path.resolve(here, '..');
  return path.resolve(srcRoot, '..', 'dist', path.relative(srcRoot, here), name);
}
