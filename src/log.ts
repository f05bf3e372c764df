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

/** Without a TTY (CI logs, pipes, nohup): one plain line this often, instead of redraws. */
const PLAIN_LINE_MS = 30_000;

/** `format` with cli-progress' tokens filled in, the bar itself left out. */
export function renderProgressLine(format: string, tokens: Record<string, string | number>): string {
  return format
    .replace(/\s*[[|]\{bar\}[\]|]\s*/, ' ')
    .replace(/\{(\w+)\}/g, (whole, key: string) => (key in tokens ? String(tokens[key]) : whole))
    .trim();
}

function plainProgress(total: number, format: string): Progress {
  const started = performance.now();
  let last = started;
  let first: number | undefined;
  return {
    update(done, payload = {}) {
      first ??= done; // a resumed run starts part-way: its rate counts from here
      const now = performance.now();
      if (now - last < PLAIN_LINE_MS || done >= total) return;
      last = now;
      const rate = (done - first) / ((now - started) / 1000);
      const eta = rate > 0 ? formatSeconds((total - done) / rate) : '-';
      info(
        renderProgressLine(format, { value: done, total, percentage: Math.round((100 * done) / total), eta_formatted: eta, ...payload }),
      );
    },
    stop: () => undefined,
  };
}

/**
 * A cli-progress bar on stderr. Without a TTY (CI, pipes) it prints a plain line every 30 s
 * instead, so logs show progress without being flooded with redraws.
 */
export function progressBar(total: number, format: string): Progress {
  if (quiet) return { update: () => undefined, stop: () => undefined };
  if (!process.stderr.isTTY) return plainProgress(total, format);
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
