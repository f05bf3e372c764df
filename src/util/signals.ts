// Ctrl-C (SIGINT) and SIGTERM (`docker stop`, batch schedulers) in long-running commands: the first
// one asks the command to stop at its next safe point (after a batch is saved), the command then
// throws Interrupted, and main exits 130 or 143 (128 + the signal number, the shell's convention),
// so `capgen train && capgen eval` does not go on with a half-trained model. A second signal aborts
// at once; what is on disk is still whole (every file is written atomically).

export type StopSignal = 'SIGINT' | 'SIGTERM';

export const SIGNAL_EXIT_CODES: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143 };

/** Thrown by a command that stopped because of a signal, after saving what can be resumed. */
export class Interrupted extends Error {
  readonly signal: StopSignal;
  constructor(signal: StopSignal, message: string) {
    super(message);
    this.name = 'Interrupted';
    this.signal = signal;
  }
  get exitCode(): number {
    return SIGNAL_EXIT_CODES[this.signal];
  }
}

export function isInterrupted(e: unknown): e is Interrupted {
  return e instanceof Interrupted;
}

let requested: StopSignal | undefined;
const listeners = new Set<(signal: StopSignal, again: boolean) => void>();
let installed = false;

function onSignal(signal: StopSignal): void {
  const again = requested !== undefined;
  if (!again) {
    requested = signal;
    process.stderr.write(
      `\ncapgen: ${signal}: stopping at the next safe point and saving what can be resumed (${signal === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to stop at once)\n`,
    );
  }
  for (const l of listeners) l(signal, again);
  if (again) {
    process.stderr.write(`\ncapgen: ${signal} again: stopping now\n`);
    // The 'exit' handlers (run-folder lock) still run; atomic writes leave no half-written file.
    process.exit(SIGNAL_EXIT_CODES[signal]);
  }
}

const handlers: Record<StopSignal, () => void> = { SIGINT: () => onSignal('SIGINT'), SIGTERM: () => onSignal('SIGTERM') };

/** Installs the SIGINT/SIGTERM handlers for a long-running command (idempotent). */
export function installStopHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('SIGINT', handlers.SIGINT);
  process.on('SIGTERM', handlers.SIGTERM);
}

/** Removes the handlers again (tests; commands that hand signals to someone else). */
export function uninstallStopHandlers(): void {
  if (!installed) return;
  installed = false;
  process.off('SIGINT', handlers.SIGINT);
  process.off('SIGTERM', handlers.SIGTERM);
  requested = undefined;
}

/** The signal that asked this process to stop, if any. */
export function stopRequested(): StopSignal | undefined {
  return requested;
}

/** Called with every stop signal (again = not the first); returns the unsubscribe function. */
export function onStopRequest(listener: (signal: StopSignal, again: boolean) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** At a safe point: throws Interrupted when a stop was requested. */
export function throwIfStopRequested(what: string): void {
  if (requested) throw new Interrupted(requested, what);
}
