// The published package: `npm pack` the checkout, install the tarball into an empty project with the very
// commands README's "As a package" gives (offline, from the npm cache that `npm ci` filled), and run the
// installed bin as a user of the tarball would: it must keep ONNX Runtime and train on it.
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

interface LockEntry {
  version?: string;
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}

/** The commands of README's "As a package" block, one per line, comments dropped. */
function readmeInstallCommands(): { commands: string[]; section: string } {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### As a package'));
  const block = section.match(/```\n([\s\S]*?)```/)?.[1] ?? '';
  const commands = block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
  return { commands, section: section.slice(0, section.indexOf('\n## ')) };
}

/**
 * The user's lock file: capgen from the tarball, every runtime package exactly as this checkout's lock has
 * it. Only because the test runs offline: npm would otherwise resolve versions from the registry, and
 * `npm ci` fills the cache with tarballs, not registry metadata.
 */
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

  it('packs bin + dist only, installs as README says (ONNX Runtime kept, only the npm warnings README names), and the installed capgen trains on ONNX Runtime', async () => {
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
    expect(files).toContain('LICENSE');
    expect(files.filter((f) => !/^(bin|dist)\/|^(package\.json|README\.md|LICENSE)$/.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.map') || f.endsWith('.tsbuildinfo'))).toEqual([]);

    const project = path.join(root, 'user-project');
    mkdirSync(project);
    renameSync(path.join(root, packed.filename), path.join(project, packed.filename));
    const { commands, section } = readmeInstallCommands();
    const install = commands.find((c) => /\bnpm install\b/.test(c));
    expect(install, 'README gives the install command').toBeDefined();
    expect(install).toContain(`./${packed.filename}`);

    let installed: { code: number; stdout: string; stderr: string } | undefined;
    let versionOut = '';
    for (const command of commands) {
      if (command === install) {
        writeFileSync(path.join(project, 'package-lock.json'), JSON.stringify(userLock(`file:${packed.filename}`), null, 2));
        installed = await sh('bash', ['-c', `${command} --offline --no-audit --no-fund`], { cwd: project });
        expect(installed.code, installed.stderr).toBe(0);
      } else {
        const r = await sh('bash', ['-c', command], { cwd: project, env: { CAPGEN_BACKEND: 'wasm' } });
        expect(r.code, `${command}: ${r.stderr}`).toBe(0);
        if (/capgen --version/.test(command)) versionOut = r.stdout;
      }
    }
    expect(versionOut.trim()).toBe(pkg.version);
    expect(existsSync(path.join(project, 'node_modules', 'typescript')), 'typescript was installed').toBe(false);
    expect(existsSync(path.join(project, 'node_modules', 'capgen', 'dist', 'cli', 'main.js'))).toBe(true);
    // onnxruntime-node arrives with its bundled CPU binaries; its script (the CUDA download) did nothing.
    const ortBin = path.join(project, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch);
    expect(existsSync(path.join(ortBin, 'onnxruntime_binding.node'))).toBe(true);
    expect(existsSync(path.join(ortBin, 'libonnxruntime_providers_cuda.so'))).toBe(false);
    // Every npm warning is one README's section names (as `npm warn CODE`) and explains.
    const named = new Set([...section.matchAll(/`npm warn ([\w-]+)`/g)].map((m) => m[1]));
    const warnings = installed!.stderr.split('\n').filter((l) => /^npm warn/i.test(l));
    expect(warnings.filter((l) => !named.has(l.split(/\s+/)[2]))).toEqual([]);

    const env = { CAPGEN_BACKEND: 'wasm' };
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
    expect(prep.stderr).not.toMatch(/^warning: ONNX Runtime/m); // the demo encoder has no ONNX graph: tfjs, and no warning

    const train = await sh('npx', ['--offline', 'capgen', 'train', '--run', run, '--epochs', '1', '--batch-size', '8'], {
      cwd: project,
      env,
    });
    expect(train.code, train.stderr).toBe(0);
    expect(train.stderr).toMatch(/engine onnx \(ONNX Runtime/);
    expect(train.stderr).not.toMatch(/^warning: ONNX Runtime/m);
  }, 600_000); // ~1 min on an idle 2-core machine (mostly unpacking ~240 packages from the npm cache); 4 min at load 25
});
