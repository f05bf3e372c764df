// natural through its public entry point: loaded on first use, without printing to stdout (which would
// corrupt --json output) or copying the working folder's .env into capgen's environment.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../helpers.js';

describe('src/text/natural.ts', () => {
  it('tokenizes as natural.WordTokenizer, prints nothing and leaves process.env as it was, even beside a .env file', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, '.env'), 'CAPGEN_PROBE_FROM_DOTENV=1\n');
    const module = path.join(REPO_ROOT, 'dist', 'text', 'natural.js');
    const script = `
      const { wordTokenizer } = await import(${JSON.stringify(module)});
      const keys = Object.keys(process.env).length;
      const tokens = wordTokenizer.tokenize("a dog's t-shirt, 2 cats_x");
      console.error(JSON.stringify({ tokens, probe: process.env.CAPGEN_PROBE_FROM_DOTENV ?? null, added: Object.keys(process.env).length - keys }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr)).toEqual({ tokens: ['a', 'dog', 's', 't', 'shirt', '2', 'cats_x'], probe: null, added: 0 });
  });
});
