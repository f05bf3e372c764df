// Writes that never leave a half-written file: write beside the target, fsync, then rename.
import { randomBytes } from 'node:crypto';
import { promises as fs, readdirSync, renameSync, rmSync, existsSync } from 'node:fs';
import path from 'node:path';

/** What tempPathFor() names (and replaceDirAtomic's `.old` of it): `.<target name>.<8 hex>.tmp[.old]`. */
const TEMP_NAME = /^\.(.+)\.[0-9a-f]{8}\.tmp(\.old)?$/;

function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(4).toString('hex')}.tmp`);
}

export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = await writeTemp(target, data);
  try {
    await fs.rename(tmp, target);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/** Writes `data` durably to a temp file beside `target`; on any failure (ENOSPC...) the temp file is removed. */
async function writeTemp(target: string, data: string | Uint8Array): Promise<string> {
  const tmp = tempPathFor(target);
  const handle = await fs.open(tmp, 'w');
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (e) {
    await fs.rm(tmp, { force: true });
    // FileHandle errors carry no path: name the file being written, for the message.
    if (e && typeof e === 'object') (e as NodeJS.ErrnoException).path ??= target;
    throw e;
  }
  return tmp;
}

/**
 * Several files published as one set: every file is written to its temp file first, and only when
 * all are written are they renamed into place, so a failure (a full disk, an error while rendering)
 * leaves the previous set untouched and no temp files behind.
 */
export async function writeFileSetAtomic(files: { target: string; data: string | Uint8Array }[]): Promise<void> {
  const temps: { tmp: string; target: string }[] = [];
  try {
    for (const f of files) {
      await fs.mkdir(path.dirname(f.target), { recursive: true });
      temps.push({ tmp: await writeTemp(f.target, f.data), target: f.target });
    }
  } catch (e) {
    await Promise.all(temps.map((t) => fs.rm(t.tmp, { force: true })));
    throw e;
  }
  // Renames need no space and do not fail on a full disk; they run back to back.
  for (const t of temps) await fs.rename(t.tmp, t.target);
}

export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, `${JSON.stringify(value, null, 2)}\n`);
}

/** JSON Lines: one compact JSON value per line. */
export async function writeJsonLinesAtomic(target: string, rows: Iterable<unknown>): Promise<void> {
  const parts: string[] = [];
  for (const row of rows) parts.push(JSON.stringify(row));
  await writeFileAtomic(target, parts.length ? `${parts.join('\n')}\n` : '');
}

/**
 * Replace a whole directory atomically: `fill` writes into a fresh temp dir, which then takes
 * the target's place. A crash at any point leaves either the old or the new directory, whole; a
 * failure (in `fill` or in the swap) leaves the old one in place and removes the temp dir.
 */
export async function replaceDirAtomic(target: string, fill: (dir: string) => Promise<void>): Promise<void> {
  // Absolute: '.' or 'x/..' as a target would put the temp dir inside it and name no folder to rename.
  target = path.resolve(target);
  const parent = path.dirname(target);
  await fs.mkdir(parent, { recursive: true });
  const tmp = tempPathFor(target);
  await fs.mkdir(tmp);
  const old = `${tmp}.old`;
  let hadOld = false;
  try {
    await fill(tmp);
    try {
      await fs.rename(target, old);
      hadOld = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await fs.rename(tmp, target);
  } catch (e) {
    if (hadOld) await fs.rename(old, target);
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  if (hadOld) await fs.rm(old, { recursive: true, force: true });
}

/** Folders below a run folder where atomic writes happen (train/best, features/<key>/shards/<i>): deeper ones are data. */
const LEFTOVER_SEARCH_DEPTH = 4;

/**
 * Removes the temp files and folders that atomic writes left behind when their process was killed
 * (kill -9, a second Ctrl-C), below `dir`. Only for a caller that is the folder's only writer (it
 * holds the lock exclusively): another live writer's temp files would look the same. A moved-aside
 * `.old` folder whose target is missing (killed between the two renames of replaceDirAtomic) is
 * put back instead: it is the last complete version. Returns how many were removed or restored.
 */
export function removeLeftoverTemps(dir: string, depth = LEFTOVER_SEARCH_DEPTH): number {
  let count = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    const m = TEMP_NAME.exec(e.name);
    if (m) {
      const target = path.join(dir, m[1]);
      if (m[2] && e.isDirectory() && !existsSync(target)) renameSync(full, target);
      else rmSync(full, { recursive: true, force: true });
      count++;
    } else if (e.isDirectory() && depth > 1) count += removeLeftoverTemps(full, depth - 1);
  }
  return count;
}
