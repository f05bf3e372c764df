// Defect: `export --format web` and `serve --client-side` published the absolute paths of the
// checkpoint and of the encoder's model.json in capgen-model.json: a folder meant for public hosting
// named paths of the machine that made it. Now no exported file (every format) and no file that
// `serve --client-side` hands out names the run folder, the encoder's folder or any temp folder.
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { BIN, REPO_ROOT, runCli, tempDir } from '../helpers.js';
import { modelRuns } from './export-fixtures.js';

/** Files a browser or a program reads as text; the others (.bin weights, .wasm, .onnx) are numbers. */
const TEXT_FILES = /\.(json|js|html|css|txt|md)$/;

async function textFilesIn(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && TEXT_FILES.test(e.name))
    .map((e) => path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)));
}

const FORMATS = ['web', 'tfjs', ...(SKIP_ORT ? [] : ['onnx'])];

describe.skipIf(!existsSync(BIN))('exports name no server path', () => {
  const root = tempDir('capgen-export-paths-');
  let run = '';
  /** What must not appear: the run folder, the encoder's folder (both under root), temp folders, the checkout. */
  let serverPaths: string[] = [];

  function expectNoServerPath(text: string, where: string): void {
    for (const p of serverPaths) expect(text.includes(p), `${where} names ${p}`).toBe(false);
  }

  beforeAll(async () => {
    // A tfjs layers encoder outside the run: prepare records its absolute path.
    run = await modelRuns(root)({ decoder: 'attention', encoder: 'layers', pooling: 'none' });
    serverPaths = [...new Set([run, root, await fs.realpath(root), `${os.tmpdir()}${path.sep}`, REPO_ROOT])];
    for (const format of FORMATS) {
      const r = await runCli(['export', '--run', run, '--format', format, '--out', path.join(root, `export-${format}`)]);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 180_000);

  it.each(FORMATS)('export --format %s', async (format) => {
    const out = path.join(root, `export-${format}`);
    const files = await textFilesIn(out);
    expect(files).toContain(format === 'web' ? path.join('model', 'capgen-model.json') : 'capgen-model.json');
    for (const f of files) expectNoServerPath(await fs.readFile(path.join(out, f), 'utf8'), f);
  });

  it('serve --client-side: every text file it hands out', async () => {
    const site = path.join(root, 'export-web');
    const files = await textFilesIn(site);
    const child = spawn(process.execPath, [BIN, 'serve', '--client-side', '--run', run, '--port', '0'], {
      env: { ...process.env, CAPGEN_BACKEND: 'wasm' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      let stderr = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (d) => {
          stderr += d;
          const m = stderr.match(/open (http:\/\/\S+\/) \(captions are computed in the browser/);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
      });
      for (const f of files) {
        const response = await fetch(new URL(f.split(path.sep).join('/'), url));
        expect(response.status, f).toBe(200);
        expectNoServerPath(await response.text(), f);
      }
    } finally {
      child.kill('SIGTERM');
    }
  }, 120_000);
});
