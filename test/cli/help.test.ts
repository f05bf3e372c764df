// `capgen --help`, `--version` and every `capgen <cmd> --help` answer without loading the heavy libraries
// (TensorFlow.js, ONNX Runtime, sharp, fastify, natural): the commands import their stages inside their
// actions. How fast that is, is measured in bench/cli-startup.mjs, not here.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { runCli, tempDir } from '../helpers.js';

/** A module hook that fails any import of a heavy library (ESM imports go through it). */
const HOOKS = `
const HEAVY = /^(@tensorflow\\/|onnxruntime-node|sharp|fastify|@fastify\\/|natural|h5wasm)/;
export async function resolve(specifier, context, next) {
  if (HEAVY.test(specifier)) throw new Error('heavy module loaded for help: ' + specifier);
  return next(specifier, context);
}
`;

describe('capgen --help', () => {
  const commands = buildProgram().commands.map((c) => c.name());

  it('lists every command', async () => {
    expect(commands.length).toBeGreaterThanOrEqual(8);
    const r = await runCli(['--help']);
    expect(r.code, r.stderr).toBe(0);
    const listed = r.stdout
      .slice(r.stdout.indexOf('Commands:'))
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/)[0])
      .filter(Boolean);
    for (const name of commands) expect(listed, name).toContain(name);
  });

  it('--version, --help and every command --help load no heavy library', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'hooks.mjs'), HOOKS);
    writeFileSync(path.join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
    const env = { NODE_OPTIONS: `--import ${path.join(dir, 'register.mjs')}` };
    // The hook works: loading a stage module directly trips it.
    const control = await runCli(['caption', '--run', dir, dir], { env });
    expect(control.stderr).toMatch(/heavy module loaded for help: @tensorflow\/tfjs/);
    for (const args of [['--version'], ['--help'], ...commands.map((c) => [c, '--help'])]) {
      const r = await runCli(args, { env });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout.length, args.join(' ')).toBeGreaterThan(0);
    }
  });
});
