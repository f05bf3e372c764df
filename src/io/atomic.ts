// Writes that never leave a half-written file: write beside the target, fsync, then rename.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

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
