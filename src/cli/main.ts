// The capgen program: commander maps flags to typed configs and calls each stage's run().
// Only this module decides the exit code: 0 ok, 1 a bug (stack trace), 2 bad input or usage,
// 130/143 stopped by SIGINT/SIGTERM (after saving what can be resumed).
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { isCapgenError } from '../errors.js';
import { diskError } from '../io/disk-errors.js';
import { isVerbose, setLogLevel } from '../log.js';
import { installStopHandlers, isInterrupted } from '../util/signals.js';
import { registerCommands } from './commands.js';

/** Commands that run long enough to be stopped: they stop at a safe point on SIGINT/SIGTERM. */
const LONG_RUNNING = new Set(['prepare', 'train', 'eval', 'demo']);
/** The installed package's version (package.json sits two folders above dist/cli/, in a checkout and in the tarball). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command('capgen')
    .description(
      'Train and evaluate image-captioning models: CNN image features + merge-LSTM, soft-attention LSTM or Transformer decoders, on TensorFlow.js and ONNX Runtime.',
    )
    .version(packageVersion(), '-V, --version', 'print the capgen version')
    .option('--verbose', 'more logs, and stack traces on errors')
    .option('--quiet', 'only results and errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) })
    .hook('preAction', (cmd, action) => {
      const opts = cmd.opts<{ verbose?: boolean; quiet?: boolean }>();
      setLogLevel({ verbose: opts.verbose, quiet: opts.quiet });
      if (LONG_RUNNING.has(action.name())) installStopHandlers();
    });
  registerCommands(program);
  // Subcommands do not inherit these: without them a bad flag value would exit 1 from inside commander.
  for (const command of program.commands) {
    command
      .exitOverride()
      .showHelpAfterError('(run with --help for usage)')
      .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  }
  return program;
}

/** Runs the CLI and returns the exit code (the bin sets process.exitCode). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors were already printed.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (isInterrupted(e)) {
      process.stderr.write(`capgen: interrupted by ${e.signal}: ${e.message}\n`);
      return e.exitCode;
    }
    const error = isCapgenError(e) ? e : (diskError(e) ?? diskError((e as Error)?.cause));
    if (error) {
      process.stderr.write(`capgen: error: ${error.oneLine()}\n`);
      if (isVerbose() && (e as Error).stack) process.stderr.write(`${(e as Error).stack}\n`);
      return 2;
    }
    process.stderr.write(`capgen: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}
