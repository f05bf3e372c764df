// The built CLI: help, unknown commands and exit codes.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';

describe('capgen CLI', () => {
  it('--help lists the commands and exits 0 with usage on stdout', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: capgen/);
    expect(r.stdout).toMatch(/prepare/);
  });

  it('an unknown command exits 2 with a message on stderr and nothing on stdout', async () => {
    const r = await runCli(['no-such-command']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/unknown command 'no-such-command'/);
  });
});
