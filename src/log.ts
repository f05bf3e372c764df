// Logs, progress and errors go to stderr; stdout is reserved for results and --json.
import { MultiBar, Presets, SingleBar } from 'cli-progress';

let quiet = false;
let verbose = false;

export function setLogLevel(opts: { quiet?: boolean; verbose?: boolean }): void {
  quiet = opts.quiet ?? false;
  verbose = opts.verbose ?? false;
}

export function isVerbose(): boolean {
  return verbose;
}

export function info(message: string): void {
  if (!quiet) process.stderr.write(`${message}\n`);
}

export function warn(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

export function debug(message: string): void {
  if (verbose) process.stderr.write(`debug: ${message}\n`);
}

/** Results go to stdout (tables, `--json`). */
export function result(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export interface Progress {
  update(done: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/**
 * A cli-progress bar on stderr. Without a TTY (CI, pipes) it stays silent: the caller prints
 * its own summary lines, so logs are not flooded with redraws.
 */
export function progressBar(total: number, format: string): Progress {
  if (quiet || !process.stderr.isTTY) {
    return { update: () => undefined, stop: () => undefined };
  }
  const bar = new SingleBar(
    { format, stream: process.stderr, hideCursor: true, etaBuffer: 50, fps: 5, clearOnComplete: false },
    Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (done, payload) => bar.update(done, payload),
    stop: () => bar.stop(),
  };
}

export { MultiBar };

/** Human-friendly seconds: `12.3 s`, `4 min 05 s`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - m * 60);
  return `${m} min ${String(s).padStart(2, '0')} s`;
}
