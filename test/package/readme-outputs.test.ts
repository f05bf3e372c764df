// Following README's examples inside the checkout must not break the checkout: every folder or file they
// write (run folders, exports, TensorBoard logs, attention maps, `npm pack`'s tarball) is git-ignored and
// left alone by ESLint and Prettier, so `npm test` (which lints first) still passes afterwards.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../helpers.js';

const exec = promisify(execFile);

/** Flags whose value is a folder the command writes (or, for --run, a run folder prepare writes). */
const OUTPUT_FLAGS = ['--out', '--run', '--tensorboard', '--attention-maps'];

/** The paths README's command examples write, relative to the folder they run in. */
function readmeOutputs(): string[] {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const version = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const commands = readme
    .split('\n')
    .flatMap((line) => [...line.matchAll(/(?:npx capgen|npm pack)[^`#\n]*/g)].map((m) => m[0]))
    .map((c) => c.replace(/[[\]]/g, ' '));
  const outputs = new Set<string>(['artifacts/']); // the default run folder
  for (const command of commands) {
    if (command.startsWith('npm pack')) outputs.add(`capgen-${version}.tgz`);
    const words = command.split(/\s+/);
    words.forEach((word, i) => {
      const value = words[i + 1];
      // Placeholders (DIR, RUN, <copy>) and folders outside the checkout are not written into it.
      if (!OUTPUT_FLAGS.includes(word) || !value || /^[A-Z<]|^\.\.|^\/|^\$/.test(value) || value === 'elsewhere') return;
      outputs.add(value.replace(/\/?$/, '/'));
    });
  }
  return [...outputs].sort();
}

/** What a run folder or export holds, for the linters' purposes: scripts, pages, JSON, as the commands write them. */
function writeOutput(root: string, output: string): void {
  const target = path.join(root, output);
  if (!output.endsWith('/')) {
    writeFileSync(target, 'not really a tarball');
    return;
  }
  mkdirSync(path.join(target, 'nested'), { recursive: true });
  // A minified bundle, as `export --format web` writes (capgen.js: TensorFlow.js and the page's code).
  writeFileSync(path.join(target, 'capgen.js'), 'var a=1;function f(){return unusedVariable}\n');
  writeFileSync(path.join(target, 'nested', 'capgen-model.mjs'), 'export const x=1;;\n');
  writeFileSync(path.join(target, 'report.html'), '<p>unformatted   <b>html</p>\n');
  writeFileSync(path.join(target, 'capgen-model.json'), '{"a":1,   "b":2}\n');
}

describe("README's examples leave the checkout lintable", () => {
  const outputs = readmeOutputs();

  it('finds the outputs of the examples (run folders, exports, logs, maps, the packed tarball)', () => {
    for (const expected of ['artifacts/', 'runs/mobilenet/', 'site/', 'exported/', 'exported-onnx/', 'logs/f8k/', 'maps/']) {
      expect(outputs).toContain(expected);
    }
    expect(outputs.some((o) => /^capgen-.*\.tgz$/.test(o))).toBe(true);
  });

  it('every one of them is git-ignored', async () => {
    // check-ignore lists the paths git ignores (absent ones too) and exits 1 when it ignores none of them.
    const files = outputs.map((o) => (o.endsWith('/') ? `${o}capgen.js` : o));
    const r = await exec('git', ['check-ignore', '--no-index', ...files], { cwd: REPO_ROOT }).catch((e: { stdout: string }) => e);
    const ignored = r.stdout.trim().split('\n').filter(Boolean);
    expect(files.filter((f) => !ignored.includes(f))).toEqual([]);
  });

  it('ESLint and Prettier, configured as the checkout is, skip all of them (and still catch a bad source file)', async () => {
    // A copy of the lint configuration with the outputs beside it: linting the real checkout would cost
    // a minute, and writing into it could disturb a developer's own run folders.
    const copy = tempDir('capgen-readme-outputs-');
    for (const f of ['eslint.config.js', '.prettierrc.json', '.prettierignore', '.gitignore', 'package.json']) {
      copyFileSync(path.join(REPO_ROOT, f), path.join(copy, f));
    }
    symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
    for (const output of outputs) writeOutput(copy, output);
    // The control: a source file both tools must reject, so a passing run means they looked.
    mkdirSync(path.join(copy, 'src'));
    writeFileSync(path.join(copy, 'src', 'bad.js'), 'var  a=1\n');

    const bin = (tool: string) => path.join(REPO_ROOT, 'node_modules', '.bin', tool);
    const eslint = await exec(bin('eslint'), ['--format', 'json', '.'], { cwd: copy }).catch((e: { stdout: string }) => e);
    const linted = (JSON.parse(eslint.stdout) as { filePath: string; errorCount: number }[])
      .filter((r) => r.errorCount > 0)
      .map((r) => path.relative(copy, r.filePath));
    expect(linted).toEqual(['src/bad.js']);

    // No colours: with CI set, Prettier colours its '[warn]' tags even into a pipe.
    const prettier = await exec(bin('prettier'), ['--check', '.'], {
      cwd: copy,
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
    }).catch((e: { stdout: string; stderr: string }) => e);
    const unformatted = `${prettier.stdout}\n${prettier.stderr}`
      .split('\n')
      .filter((l) => l.startsWith('[warn] ') && !/Code style issues/.test(l))
      .map((l) => l.slice('[warn] '.length).trim());
    expect(unformatted).toEqual(['src/bad.js']);
  }, 120_000);
});
