// The published package: `npm pack` the checkout, install the tarball into an empty project offline
// (from the npm cache that `npm ci` filled), and run the installed bin, as a user of the tarball would.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../helpers.js';

const exec = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Runs a command, returning its output and exit code instead of throwing on a non-zero one. */
async function sh(cmd: string, args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, maxBuffer: 64 << 20, timeout: 240_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? String(e) };
  }
}

describe('npm pack + install of the tarball', () => {
  const root = tempDir('capgen-pack-');

  it('packs bin + dist only, installs offline without TypeScript, and the installed capgen runs', async () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };
    // The build runs when packing (prepack), never on the user's install (no prepare/install script).
    expect(pkg.scripts.prepack).toMatch(/npm run build/);
    for (const hook of ['prepare', 'preinstall', 'install', 'postinstall']) expect(pkg.scripts[hook], hook).toBeUndefined();

    // `npm test` built dist/ already: --ignore-scripts skips prepack's second tsc run (~30 s here).
    const pack = await sh(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', root], { cwd: REPO_ROOT });
    expect(pack.code, pack.stderr).toBe(0);
    const [packed] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    const files = packed.files.map((f) => f.path);
    expect(files).toContain('bin/capgen.js');
    expect(files).toContain('dist/cli/main.js');
    expect(files).toContain('package.json');
    expect(files.filter((f) => !/^(bin|dist)\/|^(package\.json|README\.md|LICENSE)$/.test(f))).toEqual([]);

    const project = path.join(root, 'user-project');
    await sh('mkdir', ['-p', project], { cwd: root });
    // A user's project records its own install-script decisions; these keep the install offline and quick
    // (tfjs-node's libtensorflow and onnxruntime-node's CUDA downloads would fail here anyway).
    writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'user-project', version: '1.0.0', private: true, allowScripts: { '@tensorflow/tfjs-node': false, '@tensorflow/tfjs-node-gpu': false, 'onnxruntime-node': false, 'core-js': false } }),
    );
    const install = await sh(NPM, ['install', path.join(root, packed.filename), '--offline', '--omit=dev', '--no-audit', '--no-fund'], { cwd: project });
    expect(install.code, install.stderr).toBe(0);
    expect(existsSync(path.join(project, 'node_modules', 'typescript')), 'typescript was installed').toBe(false);
    expect(install.stderr).not.toMatch(/npm warn/i);

    const env = { CAPGEN_BACKEND: 'wasm' };
    const version = await sh('npx', ['--offline', 'capgen', '--version'], { cwd: project, env });
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(pkg.version);
    const help = await sh('npx', ['--offline', 'capgen', '--help'], { cwd: project, env });
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/Usage: capgen/);

    const run = path.join(project, 'runs', 'tiny');
    const prep = await sh('npx', ['--offline', 'capgen', 'prepare', '--dataset', 'synthetic', '--count', '12', '--run', run], { cwd: project, env });
    expect(prep.code, prep.stderr).toBe(0);
    const record = JSON.parse(readFileSync(path.join(run, 'prepare.json'), 'utf8')) as { stats?: unknown };
    expect(record).toBeTypeOf('object');
    expect(readFileSync(path.join(run, 'captions.jsonl'), 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(12);
  }, 180_000);
});
