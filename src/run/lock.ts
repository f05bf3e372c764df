// One writer per folder: prepare, train and eval take a lock file (pid, command, start time) in the
// run folder before writing, so that two runs cannot interleave their files; a feature cache kept
// outside the run takes the same lock in its own folder. The one exception: `prepare --shard I/N`
// processes share a folder (each locks its own shard slot), while every other writer is refused.
// A lock whose process is gone (kill -9, a crash, a reboot) is taken over with a warning, atomically:
// of several processes that find the same stale lock, exactly one gets it. Readers never take it.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
  fsyncSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CapgenError } from '../errors.js';
import { removeLeftoverTemps } from '../io/atomic.js';
import { info, warn } from '../log.js';
import type { ShardSpec } from '../util/shard.js';

/** Inside the run folder, hidden: it is about the folder, not one of its outputs. */
export const LOCK_FILE = '.capgen.lock';

/** The lock of shard I of N: one per shard, so shard writers never wait for each other. */
export function shardLockFile(spec: ShardSpec): string {
  return `.capgen.shard-${spec.index}-of-${spec.count}.lock`;
}
const SHARD_LOCK_NAME = /^\.capgen\.shard-\d+-of-\d+\.lock$/;
/** A lock's content is written here first and linked into place whole (never a torn or empty lock).
 *  The pid in the name tells whose it is; its '-' keeps it out of atomic.ts's temp-name pattern. */
const LOCK_TEMP_NAME = /^\.capgen\.(.*\.)?lock\.(\d+)-[0-9a-f]{8}\.tmp$/;

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

export interface LockOptions {
  /** Take shard `shard`'s slot: other shards may write at the same time, nothing else may. */
  shard?: ShardSpec;
  /** What the folder is, for messages. */
  what?: 'run folder' | 'feature cache';
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
  if (!pidAlive(holder.pid)) return false;
  if (holder.procStart === undefined) return true;
  const now = procStartTime(holder.pid);
  return now === undefined || now === holder.procStart;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  return true;
}

/** The file's text; undefined when it is gone; '' when it cannot be read (so: unreadable, not gone). */
function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : '';
  }
}

function parseHolder(text: string | undefined): LockHolder | undefined {
  try {
    const h = JSON.parse(text ?? '') as LockHolder;
    return typeof h.pid === 'number' ? h : undefined;
  } catch {
    return undefined; // torn or empty: written by an older capgen that died between open and write
  }
}

const isMe = (h: LockHolder | undefined): boolean => h !== undefined && h.pid === process.pid && h.host === os.hostname();

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A lock path that is there but is not a file (a folder, say): the user's to sort out. */
function refuseNonFile(file: string): void {
  let isFile: boolean;
  try {
    isFile = lstatSync(file).isFile();
  } catch {
    return; // gone meanwhile
  }
  if (!isFile)
    throw new CapgenError('USAGE', 'the lock file is not a file (a folder or something else has its name)', {
      file,
      hint: 'capgen keeps its lock in this name: move that away, then run again',
    });
}

/** Writes the lock's content to a temp file beside it, durably; a full disk names the lock file. */
function writeLockTemp(file: string, content: string): string {
  const tmp = path.join(path.dirname(file), `${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'wx');
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e && typeof e === 'object') (e as NodeJS.ErrnoException).path = file;
    throw e;
  }
  return tmp;
}

/** link() refuses an existing target, so of several processes exactly one creates `file`. */
function linkExclusive(tmp: string, file: string): boolean {
  try {
    linkSync(tmp, file);
    return true;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EEXIST') return false;
    err.path = file;
    throw e;
  }
}

type SlotOutcome = { taken: true; tookOver?: LockHolder | 'unreadable' } | { taken: false; holder: LockHolder };

/** How long to wait for another process that is taking over the same stale lock. */
const TAKEOVER_WAIT_MS = 2000;

/**
 * Creates `file` holding `content` unless a live process holds it. A stale one (dead holder, or
 * unreadable) is replaced under a second lock, `<file>.takeover`, created with the same exclusive
 * link: only its creator may remove the stale lock, and it first checks that the lock is still the
 * stale one it saw, so a lock just taken by another process is never removed.
 */
function takeSlot(file: string, content: string): SlotOutcome {
  const tmp = writeLockTemp(file, content);
  const takeover = `${file}.takeover`;
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  try {
    for (;;) {
      if (linkExclusive(tmp, file)) return { taken: true };
      if (Date.now() > deadline + TAKEOVER_WAIT_MS)
        throw new CapgenError('USAGE', 'other capgen processes keep taking and releasing this lock: gave up', {
          file,
          hint: 'run one writer per folder',
        });
      refuseNonFile(file);
      const seen = readText(file);
      if (seen === undefined) continue; // released meanwhile: try again
      const holder = parseHolder(seen);
      if (isMe(holder)) throw new Error(`lock ${file} is already held by this process`);
      if (holder && isAlive(holder)) return { taken: false, holder };
      if (linkExclusive(tmp, takeover)) {
        try {
          if (readText(file) !== seen) continue; // taken by someone else meanwhile: look again
          rmSync(file, { force: true });
          if (linkExclusive(tmp, file)) return { taken: true, tookOver: holder ?? 'unreadable' };
        } finally {
          rmSync(takeover, { force: true });
        }
        continue;
      }
      // Someone else is taking it over. Its takeover lock lives for microseconds; one whose
      // process died meanwhile is removed (two processes would both need to find that at once).
      const other = parseHolder(readText(takeover));
      if (other && !isAlive(other)) rmSync(takeover, { force: true });
      else if (Date.now() > deadline)
        throw new CapgenError('USAGE', 'another capgen process is taking over this stale lock and does not finish', {
          file: takeover,
          hint: 'if no capgen process is running here, delete that file',
        });
      sleepMs(5);
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}

const held = new Set<string>();
let exitHookInstalled = false;

function hold(file: string): RunLock {
  held.add(file);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const f of held) if (isMe(parseHolder(readText(f)))) rmSync(f, { force: true });
    });
  }
  return { file, release: () => releaseLock(file) };
}

function inUse(holder: LockHolder, file: string, what: string): CapgenError {
  return new CapgenError(
    'USAGE',
    `the ${what} is in use by \`capgen ${holder.command}\` (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt})`,
    {
      file,
      hint:
        what === 'run folder'
          ? 'wait for it to finish or stop it, or use another run folder; if that process is surely gone, delete the lock file'
          : 'wait for it to finish or stop it, or use another --feature-cache; if that process is surely gone, delete the lock file',
    },
  );
}

/** Live holders of the shard locks in `dir`; dead ones are removed (no shard can be admitted meanwhile: we hold the main lock). */
function liveShardHolders(dir: string): { file: string; holder: LockHolder }[] {
  const out: { file: string; holder: LockHolder }[] = [];
  for (const name of readdirSync(dir)) {
    if (!SHARD_LOCK_NAME.test(name)) continue;
    const file = path.join(dir, name);
    const holder = parseHolder(readText(file));
    if (holder && isAlive(holder) && !isMe(holder)) out.push({ file, holder });
    else if (!isMe(holder)) {
      if (holder) warn(`removing the lock of \`capgen ${holder.command}\` (pid ${holder.pid}), which is no longer running: ${file}`);
      rmSync(file, { force: true });
    }
  }
  return out;
}

/**
 * Takes the folder's lock for `command`, or throws (exit 2) naming the process that holds it.
 * Without `shard`: exclusive; with it: shared with other shards, refused while a non-shard writer
 * holds the folder. Released by release(), and in any case when this process exits.
 */
export function acquireRunLock(runDir: string, command: string, options: LockOptions = {}): RunLock {
  const what = options.what ?? 'run folder';
  mkdirSync(runDir, { recursive: true });
  const main = path.join(runDir, LOCK_FILE);
  const file = options.shard ? path.join(runDir, shardLockFile(options.shard)) : main;
  const me: LockHolder = {
    pid: process.pid,
    command,
    host: os.hostname(),
    startedAt: new Date().toISOString(),
    procStart: procStartTime(process.pid),
  };
  const slot = takeSlot(file, `${JSON.stringify(me)}\n`);
  if (!slot.taken) throw inUse(slot.holder, file, what);
  if (slot.tookOver)
    warn(
      slot.tookOver === 'unreadable'
        ? `taking over an unreadable lock file: ${file}`
        : `taking over the lock of \`capgen ${slot.tookOver.command}\` (pid ${slot.tookOver.pid}, started ${slot.tookOver.startedAt}), which is no longer running: ${file}`,
    );
  const lock = hold(file);
  // Each side takes its own lock first and then looks for the other, so at least one of a shard
  // and a non-shard writer starting together sees the other and steps back.
  try {
    if (options.shard) {
      const holder = parseHolder(readText(main));
      if (holder && isAlive(holder)) throw inUse(holder, main, what);
    } else {
      const shards = liveShardHolders(runDir);
      if (shards.length) throw inUse(shards[0].holder, shards[0].file, what);
      // The only writer now: whatever temp files are here were left by a process that died.
      const removed = removeLeftoverTemps(runDir) + removeDeadLockTemps(runDir);
      if (removed) info(`removed ${removed} temp file${removed === 1 ? '' : 's'} left by an interrupted capgen in ${runDir}`);
    }
  } catch (e) {
    lock.release();
    throw e;
  }
  return lock;
}

/** Lock temp files of processes that are gone (the pid is in the name; live ones are being linked). */
function removeDeadLockTemps(dir: string): number {
  let removed = 0;
  for (const name of readdirSync(dir)) {
    const m = LOCK_TEMP_NAME.exec(name);
    if (m && !pidAlive(Number(m[2]))) {
      rmSync(path.join(dir, name), { force: true });
      removed++;
    }
  }
  return removed;
}

function releaseLock(file: string): void {
  if (!held.delete(file)) return;
  if (isMe(parseHolder(readText(file)))) rmSync(file, { force: true });
}

/** Runs `work` holding the folder's lock; released afterwards whatever happens. */
export async function withRunLock<T>(runDir: string, command: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const lock = acquireRunLock(runDir, command, options);
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
