// Without ../shared, a test run says so once (vitest's globalSetup), not once per test file: CI logs used
// to repeat the note for every file.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../helpers.js';

describe('the ../shared note', () => {
  it('is printed once per run, however many test files import the helpers', () => {
    const missing = path.join(tempDir(), 'no-shared-here');
    // Two quick files that import test/helpers.ts, in a vitest of their own.
    const files = ['test/package/manifest.test.ts', 'test/package/readme-outputs.test.ts'];
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')));
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...files], {
      cwd: REPO_ROOT,
      env: { ...env, CAPGEN_TEST_SHARED_DIR: missing, NO_COLOR: '1' },
      encoding: 'utf8',
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Test Files\s+2 passed/);
    const notes = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes(`note: ${missing} is absent`));
    expect(notes).toHaveLength(1);
  }, 120_000);
});
