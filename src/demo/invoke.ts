// Runs one capgen command as its own process (the built bin, exactly what a user types), with its
// logs and progress on our stderr and its stdout (results, --json) captured for the caller.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CapgenError } from '../errors.js';
import { Interrupted, onStopRequest, stopRequested } from '../util/signals.js';

/** bin/capgen.js, two folders up from this module (dist/demo/ or src/demo/). */
export const CAPGEN_BIN = fileURLToPath(new URL('../../bin/capgen.js', import.meta.url));

export interface StageRun {
  stdout: string;
  elapsedMs: number;
}

/** `capgen <args>`; a non-zero exit is an error naming the command (its own message is already on stderr). */
export function invokeCapgen(args: string[]): Promise<StageRun> {
  const startedMs = Date.now();
  return new Promise((resolve, reject) => {
    // Its own process group: a terminal's Ctrl-C reaches only the demo, which passes every SIGINT
    // and SIGTERM on once, so the stage saves what it can and exits 130/143 as if run by hand.
    const child = spawn(process.execPath, [CAPGEN_BIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    const unsubscribe = onStopRequest((signal) => child.kill(signal));
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      unsubscribe();
      const stoppedBy = stopRequested();
      if (stoppedBy && code !== 0) {
        reject(new Interrupted(stoppedBy, `demo: \`capgen ${args[0]}\` stopped; run the demo again to start over`));
        return;
      }
      if (code === 0) {
        resolve({ stdout, elapsedMs: Date.now() - startedMs });
        return;
      }
      const how = signal ? `was stopped by ${signal}` : `failed with exit code ${code}`;
      reject(
        new CapgenError('USAGE', `demo: \`capgen ${args.join(' ')}\` ${how}`, {
          hint: 'its own message is printed above; run that command by itself to look into it',
        }),
      );
    });
  });
}

/** Parses a stage's `--json` stdout, naming the command when it is not JSON. */
export function parseJsonOutput<T>(run: StageRun, command: string): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`demo: \`capgen ${command} --json\` printed something that is not JSON: ${run.stdout.slice(0, 200)}`);
  }
}
