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
  return terminalProgress(total, format, process.stderr);
}

/** The tokens cli-progress fills itself; any other `{token}` of a format is the caller's payload. */
const BAR_TOKENS = new Set(['bar', 'value', 'total', 'percentage', 'eta', 'eta_formatted', 'duration', 'duration_formatted']);

/** cli-progress' times, but '-' while it has no estimate (it passes 'INF'/'NULL', drawn as 'NFs'). */
function formatBarTime(t: unknown): string {
  return typeof t === 'number' && Number.isFinite(t) && t >= 0 ? formatSeconds(t) : '-';
}

/** The redrawing bar of a terminal; its first frame shows '-' for payload tokens not known yet (not `{loss}`). */
export function terminalProgress(total: number, format: string, stream: NodeJS.WritableStream): Progress {
  const bar = new SingleBar(
    { format, stream, hideCursor: true, etaBuffer: 50, fps: 5, clearOnComplete: false, formatTime: formatBarTime },
    Presets.shades_classic,
  );
  const pending = [...format.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).filter((t) => !BAR_TOKENS.has(t));
  bar.start(total, 0, Object.fromEntries(pending.map((t) => [t, '-'])));
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
