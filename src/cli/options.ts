// Flag parsers and shared options, so that every command spells and validates them the same way.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { BACKEND_CHOICES, type BackendChoice } from '../backend/choices.js';
import { CapgenError } from '../errors.js';
import { DEFAULT_DECODE_OPTIONS } from '../decode/types.js';

export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}, got '${v}'`);
    return n;
  };
}

export function floatArg(min: number, max = Number.POSITIVE_INFINITY): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}, got '${v}'`);
    return n;
  };
}

/** `--backend`, defaulting to $CAPGEN_BACKEND, then auto. */
export function backendOption(): Option {
  return new Option('--backend <name>', 'compute backend (auto tries gpu, node, wasm, cpu in that order)')
    .choices([...BACKEND_CHOICES])
    .env('CAPGEN_BACKEND')
    .default('auto' satisfies BackendChoice);
}

/**
 * `--run <dir>`: the one name every command gives the run folder. Commands that used to call it
 * `--out` (prepare, demo) keep that spelling as a hidden alias; `resolveRunDir` merges the two.
 */
export function runOption(description: string, defaultDir: string, opts: { outAlias?: boolean } = {}): Option[] {
  const run = new Option('--run <dir>', `${description}${opts.outAlias ? ' (alias: --out)' : ''}`).default(defaultDir);
  return opts.outAlias ? [run, new Option('--out <dir>', 'alias of --run').hideHelp()] : [run];
}

/** The run folder from `--run` or its `--out` alias; both given and different is a usage error. */
export function resolveRunDir(opts: { run: string; out?: string }, cmd: Command): string {
  if (opts.out === undefined) return opts.run;
  if (cmd.getOptionValueSource('run') === 'cli' && opts.run !== opts.out) {
    throw new CapgenError('USAGE', `--run ${opts.run} and --out ${opts.out} name two run folders: give one (--out is an alias of --run)`);
  }
  return opts.out;
}

/** `--block-ngrams N` of the commands that caption (eval, caption, serve, export). */
export function blockNgramsOption(): Option {
  return new Option('--block-ngrams <n>', 'no N words in a row twice in a caption (blocks "a red shirt and a red shirt"; 0 = off)')
    .argParser(intArg(0, 10))
    .default(DEFAULT_DECODE_OPTIONS.blockNgrams);
}
