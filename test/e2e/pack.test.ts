// The published package: `npm pack` the checkout, install the tarball into an empty project offline
// (from the npm cache that `npm ci` filled), and run the installed bin, as a user of the tarball would.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../helpers.js';

const exec = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Runs a command, returning its output and exit code instead of throwing on a non-zero one. */
async function sh(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: Record<string, string> },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const t0 = performance.now();
  try {
    const r = await exec(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, maxBuffer: 64 << 20, timeout: 480_000 });
    process.stderr.write(`${cmd} ${args[0]} ${args[1] ?? ''}: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? String(e) };
  }
}

/**
 * A user's project on Node 20, set up as the README says: its own install-script decisions (these keep
 * the install offline and quick) and the cookie pin that spares it npm's engine warning.
 */
function userPackageJson(capgenSpec: string): object {
  const ours = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { overrides: object };
  return {
    name: 'user-project',
    version: '1.0.0',
    private: true,
    dependencies: { capgen: capgenSpec },
    overrides: ours.overrides,
    allowScripts: { '@tensorflow/tfjs-node': false, '@tensorflow/tfjs-node-gpu': false, 'onnxruntime-node': false, 'core-js': false },
  };
}

interface LockEntry {
  version?: string;
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}

/** The user's lock file: capgen from the tarball, every runtime package exactly as this checkout's lock has it. */
function userLock(capgenSpec: string): object {
  const ours = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const { '': root, ...installed } = ours.packages;
  const runtime = Object.fromEntries(Object.entries(installed).filter(([, e]) => !e.dev));
  return {
    name: 'user-project',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'user-project', version: '1.0.0', dependencies: { capgen: capgenSpec } },
      'node_modules/capgen': {
        version: root.version,
        resolved: capgenSpec,
        license: root.license,
        dependencies: root.dependencies,
        optionalDependencies: root.optionalDependencies,
        bin: root.bin,
        engines: root.engines,
      },
      ...runtime,
    },
  };
}

describe('npm pack + install of the tarball', () => {
  const root = tempDir('capgen-pack-');

  it('packs bin + dist only, installs offline without TypeScript, and the installed capgen runs', async () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
      scripts: Record<string, string>;
    };
    // The build runs when packing (prepack), never on the user's install (no prepare/install script).
    expect(pkg.scripts.prepack).toMatch(/npm run build/);
    for (const hook of ['prepare', 'preinstall', 'install', 'postinstall']) expect(pkg.scripts[hook], hook).toBeUndefined();

    // `npm test` has just built dist/, as prepack would: --ignore-scripts spares a second tsc run.
    const pack = await sh(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', root], { cwd: REPO_ROOT });
    expect(pack.code, pack.stderr).toBe(0);
    const [packed] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    const files = packed.files.map((f) => f.path);
    expect(files).toContain('bin/capgen.js');
    expect(files).toContain('dist/cli/main.js');
    expect(files).toContain('package.json');
    expect(files.filter((f) => !/^(bin|dist)\/|^(package\.json|README\.md|LICENSE)$/.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.map') || f.endsWith('.tsbuildinfo'))).toEqual([]);

    // The user's project pins capgen's dependencies as this checkout's lock file does (the versions the
    // suite tested), so that npm resolves nothing from the registry: `npm ci` fills the npm cache with
    // tarballs, not registry metadata, and `--offline` may use nothing else.
    const project = path.join(root, 'user-project');
    mkdirSync(project);
    renameSync(path.join(root, packed.filename), path.join(project, packed.filename));
    const spec = `file:${packed.filename}`;
    writeFileSync(path.join(project, 'package.json'), JSON.stringify(userPackageJson(spec), null, 2));
    writeFileSync(path.join(project, 'package-lock.json'), JSON.stringify(userLock(spec), null, 2));
    const install = await sh(NPM, ['install', spec, '--offline', '--omit=dev', '--no-audit', '--no-fund'], { cwd: project });
    expect(install.code, install.stderr).toBe(0);
    expect(existsSync(path.join(project, 'node_modules', 'typescript')), 'typescript was installed').toBe(false);
    expect(existsSync(path.join(project, 'node_modules', 'capgen', 'dist', 'cli', 'main.js'))).toBe(true);
    // onnxruntime-node arrives with its bundled CPU binaries; its script (the CUDA download) did not run.
    const ortBin = path.join(project, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch);
    expect(existsSync(path.join(ortBin, 'onnxruntime_binding.node'))).toBe(true);
    expect(existsSync(path.join(ortBin, 'libonnxruntime_providers_cuda.so'))).toBe(false);
    expect(install.stderr).not.toMatch(/npm warn/i);

    const env = { CAPGEN_BACKEND: 'wasm' };
    const version = await sh('npx', ['--offline', 'capgen', '--version'], { cwd: project, env });
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(pkg.version);
    const help = await sh('npx', ['--offline', 'capgen', '--help'], { cwd: project, env });
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/Usage: capgen/);

    const run = path.join(project, 'runs', 'tiny');
    const prep = await sh('npx', ['--offline', 'capgen', 'prepare', '--dataset', 'synthetic', '--count', '12', '--run', run], {
      cwd: project,
      env,
    });
    expect(prep.code, prep.stderr).toBe(0);
    const record = JSON.parse(readFileSync(path.join(run, 'prepare.json'), 'utf8')) as { features?: { encoder: { architecture: string } } };
    expect(record.features?.encoder.architecture).toBe('seeded-cnn');
    expect(readFileSync(path.join(run, 'captions.jsonl'), 'utf8').trim().split('\n')).toHaveLength(12 * 5); // five captions a scene
  }, 600_000); // ~1 min on an idle 2-core machine (mostly unpacking ~240 packages from the npm cache); 4 min at load 25
});
