// Flag parsers and shared options, so that every command spells and validates them the same way.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { BACKEND_CHOICES, type BackendChoice } from '../backend/choices.js';
import { CapgenError } from '../errors.js';
import { warn } from '../log.js';
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
 * `--out` (prepare, demo) keep that spelling as a hidden, deprecated alias; `resolveRunDir` merges the two.
 */
export function runOption(description: string, defaultDir: string, opts: { outAlias?: boolean } = {}): Option[] {
  const run = new Option('--run <dir>', description).default(defaultDir);
  return opts.outAlias ? [run, deprecatedAlias('--out <dir>', '--run')] : [run];
}

/** An old spelling of a flag, kept working but hidden from --help; `resolveAlias` notes its use on stderr. */
export function deprecatedAlias(flags: string, canonical: string): Option {
  return new Option(flags, `deprecated spelling of ${canonical}`).hideHelp();
}

/**
 * The value of a flag given under its canonical name or its deprecated alias (with a note on stderr
 * saying the new name); both given with different values is a usage error.
 */
export function resolveAlias<T>(cmd: Command, canonical: string, alias: string): T {
  const key = (flag: string) => flag.replace(/^--/, '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
  const opts = cmd.opts<Record<string, T>>();
  const [value, aliased] = [opts[key(canonical)], opts[key(alias)]];
  if (aliased === undefined) return value;
  warn(`${cmd.name()} ${alias} is deprecated: use ${canonical} (same meaning)`);
  if (cmd.getOptionValueSource(key(canonical)) === 'cli' && value !== aliased) {
    throw new CapgenError(
      'USAGE',
      `${canonical} ${String(value)} and ${alias} ${String(aliased)} disagree: give one (${alias} is the old name of ${canonical})`,
    );
  }
  return aliased;
}

/** The run folder from `--run` or its deprecated `--out` spelling. */
export function resolveRunDir(_opts: { run: string; out?: string }, cmd: Command): string {
  return resolveAlias<string>(cmd, '--run', '--out');
}

/** Widest beam the captioning commands accept: past it search costs grow with no better captions. */
export const MAX_BEAM_SIZE = 100;
/** Longest-caption preference past which beams rank almost by length alone. */
export const MAX_LENGTH_PENALTY = 5;

/**
 * The decoding flags of the commands that caption (eval, caption, serve, export): `--beam-size`,
 * `--length-penalty`, `--block-ngrams`, one definition and one range each. A command says what its
 * beam size means (serve: the default of requests) and may lower the widest beam.
 */
export function decodingOptions(opts: { beamSizeHelp?: string; beamSizeDefault?: number | null; maxBeamSize?: number } = {}): Option[] {
  const beamSize = new Option('--beam-size <n>', opts.beamSizeHelp ?? 'beam width; 1 = greedy search').argParser(
    intArg(1, opts.maxBeamSize ?? MAX_BEAM_SIZE),
  );
  if (opts.beamSizeDefault !== null) beamSize.default(opts.beamSizeDefault ?? DEFAULT_DECODE_OPTIONS.beamSize);
  const lengthPenalty = new Option('--length-penalty <alpha>', 'beam ranking: log-probability / length^alpha (0 = total log-probability)')
    .argParser(floatArg(0, MAX_LENGTH_PENALTY))
    .default(DEFAULT_DECODE_OPTIONS.lengthPenalty);
  return [beamSize, lengthPenalty, blockNgramsOption()];
}

/** `--block-ngrams N` of the commands that caption (eval, caption, serve, export). */
export function blockNgramsOption(): Option {
  return new Option('--block-ngrams <n>', 'no N words in a row twice in a caption (blocks "a red shirt and a red shirt"; 0 = off)')
    .argParser(intArg(0, 10))
    .default(DEFAULT_DECODE_OPTIONS.blockNgrams);
}
