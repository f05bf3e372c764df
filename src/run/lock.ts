// One writer per run folder: prepare, train and eval take an exclusive lock file (pid, command,
// start time) before writing, so that two runs cannot interleave their files. A lock whose process
// is gone (kill -9, a crash, a reboot) is taken over with a warning. Readers never take it.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CapgenError } from '../errors.js';
import { warn } from '../log.js';

/** Inside the run folder, hidden: it is about the folder, not one of its outputs. */
export const LOCK_FILE = '.capgen.lock';

export interface LockHolder {
  pid: number;
  command: string;
  host: string;
  startedAt: string;
  /** Linux: the process start time in clock ticks since boot (/proc/PID/stat field 22), so that a
   *  recycled pid is not mistaken for the holder. */
  procStart?: string;
}

export interface RunLock {
  file: string;
  release(): void;
}

/** Field 22 of /proc/PID/stat, or undefined off Linux (or when the process is gone). */
function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function isAlive(holder: LockHolder): boolean {
  if (holder.host !== os.hostname()) return true; // another machine (a shared disk): cannot tell, assume alive
  try {
    process.kill(holder.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (holder.procStart === undefined) return true;
  const now = procStartTime(holder.pid);
  return now === undefined || now === holder.procStart;
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
    return typeof h.pid === 'number' ? h : undefined;
  } catch {
    return undefined; // torn or empty: its writer died between open and write
  }
}

const held = new Set<string>();
let exitHookInstalled = false;

/**
 * Takes the run folder's lock for `command`, or throws (exit 2) naming the process that holds it.
 * Released by release(), and in any case when this process exits.
 */
export function acquireRunLock(runDir: string, command: string): RunLock {
  mkdirSync(runDir, { recursive: true });
  const file = path.join(runDir, LOCK_FILE);
  const me: LockHolder = {
    pid: process.pid,
    command,
    host: os.hostname(),
    startedAt: new Date().toISOString(),
    procStart: procStartTime(process.pid),
  };
  // Two tries: the second after removing a stale lock (another process may take it in between, and
  // then wins: 'wx' lets exactly one creator succeed).
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      try {
        writeSync(fd, `${JSON.stringify(me)}\n`);
      } finally {
        closeSync(fd);
      }
      held.add(file);
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.on('exit', () => {
          for (const f of held) rmSync(f, { force: true });
        });
      }
      return { file, release: () => releaseLock(file) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = readHolder(file);
    if (holder && holder.pid === process.pid && holder.host === me.host) {
      throw new Error(`run lock ${file} is already held by this process`);
    }
    if (holder && isAlive(holder)) {
      throw new CapgenError(
        'USAGE',
        `the run folder is in use by \`capgen ${holder.command}\` (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt})`,
        {
          file,
          hint: 'wait for it to finish or stop it, or use another run folder; if that process is surely gone, delete the lock file',
        },
      );
    }
    if (attempt === 0) {
      warn(
        holder
          ? `taking over the lock of \`capgen ${holder.command}\` (pid ${holder.pid}, started ${holder.startedAt}), which is no longer running: ${file}`
          : `taking over an unreadable lock file: ${file}`,
      );
      rmSync(file, { force: true });
    }
  }
  throw new CapgenError('USAGE', 'another capgen process took the run folder lock at the same moment', {
    file,
    hint: 'run one writer per run folder',
  });
}

function releaseLock(file: string): void {
  if (!held.delete(file)) return;
  const holder = readHolder(file);
  if (holder?.pid === process.pid) rmSync(file, { force: true });
}

/** Runs `work` holding the run folder's lock; released afterwards whatever happens. */
export async function withRunLock<T>(runDir: string, command: string, work: () => Promise<T>): Promise<T> {
  const lock = acquireRunLock(runDir, command);
  try {
    return await work();
  } finally {
    lock.release();
  }
}

/** True when the folder holds a lock file (for tests and messages). */
export function isLocked(runDir: string): boolean {
  return existsSync(path.join(runDir, LOCK_FILE));
}
