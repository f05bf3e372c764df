// File-system failures that are the user's to fix (a full disk, a read-only mount, no permission, a
// quota): one line naming the file, exit code 2 and a hint, instead of an internal error and a stack.
import { promises as fs } from 'node:fs';
import { CapgenError } from '../errors.js';

const DISK_ERRORS: Record<string, { what: string; hint: string }> = {
  ENOSPC: {
    what: 'no space left on the device',
    hint: 'free some space or write the run folder elsewhere (--out/--run); what was already written is intact',
  },
  EDQUOT: {
    what: 'disk quota exceeded',
    hint: 'free some space or write the run folder elsewhere (--out/--run); what was already written is intact',
  },
  EROFS: { what: 'the file system is read-only', hint: 'write the run folder elsewhere (--out/--run)' },
  EACCES: { what: 'permission denied', hint: 'check the permissions of the folder, or write the run folder elsewhere (--out/--run)' },
  EPERM: { what: 'operation not permitted', hint: 'check the permissions of the folder, or write the run folder elsewhere (--out/--run)' },
};

/** The CapgenError for a disk-level ErrnoException, or undefined for anything else. */
export function diskError(e: unknown): CapgenError | undefined {
  const err = e as NodeJS.ErrnoException | undefined;
  if (!err || typeof err !== 'object' || typeof err.code !== 'string') return undefined;
  const known = DISK_ERRORS[err.code];
  if (!known) return undefined;
  // Node puts the path on the error (and often `dest` for renames); the message repeats it otherwise.
  const file = typeof err.path === 'string' ? err.path : undefined;
  return new CapgenError('DISK', `${known.what} (${err.code}${err.syscall ? ` in ${err.syscall}` : ''})`, {
    file,
    hint: known.hint,
    cause: e,
  });
}

/** fs.writeFile whose errors name the file: a write that fails on the open file (ENOSPC) carries no path. */
export async function writeFileNamed(file: string, data: string | Uint8Array): Promise<void> {
  try {
    await fs.writeFile(file, data);
  } catch (e) {
    if (e && typeof e === 'object') (e as NodeJS.ErrnoException).path ??= file;
    throw e;
  }
}
