// The built CLI: help, unknown commands and exit codes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../helpers.js';

describe('capgen CLI', () => {
  it('--help lists the commands and exits 0 with usage on stdout', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: capgen/);
    expect(r.stdout).toMatch(/prepare/);
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('an unknown command exits 2 with a message on stderr and nothing on stdout', async () => {
    const r = await runCli(['no-such-command']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/unknown command 'no-such-command'/);
  });
});

describe('capgen subcommands', () => {
  it('a bad flag value on a subcommand exits 2, not 1', async () => {
    const r = await runCli(['train', '--epochs', 'abc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--epochs/);
  });

  it('a bad CAPGEN_THREADS is a usage error with exit 2, not a silent fall-back to another backend', async () => {
    const r = await runCli(['caption', 'x.jpg'], { env: { CAPGEN_BACKEND: 'auto', CAPGEN_THREADS: 'lots' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/CAPGEN_THREADS must be a whole number from 1 to 64, got 'lots'/);
    expect(r.stderr).not.toMatch(/pure-JS cpu/);
  });

  it('every command has --help, and every one names the run folder --run', async () => {
    for (const cmd of ['prepare', 'train', 'eval', 'caption', 'serve', 'demo']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toMatch(new RegExp(`Usage: capgen ${cmd}`));
      expect(r.stdout, cmd).toMatch(/^\s+--run <dir>\s+\S/m);
      // Their old --out spelling of the run folder still works but is hidden: --out is the command's own output.
      if (cmd === 'prepare' || cmd === 'demo') expect(r.stdout, cmd).not.toMatch(/--out/);
    }
  });

  it('--out is a deprecated alias of --run where it was the name; two different folders are a usage error', async () => {
    const r = await runCli(['prepare', '--run', 'one', '--out', 'two']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--run one and --out two disagree/);
  });
});
