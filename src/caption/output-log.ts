// `caption --out FILE.jsonl`: one JSON object per image, appended batch by batch and flushed to disk,
// so a killed run loses at most the batch it was writing. Reopening the file reads the images already
// in it (a rerun skips them) and cuts a torn last line, left by a kill in the middle of a write.
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { CapgenError } from '../errors.js';

/** One line of the file: a caption (with `caption`) or an image that could not be read (with `error`). */
export interface CaptionLine {
  image: string;
  caption?: string;
  error?: string;
}

export interface CaptionLog {
  file: string;
  /** Images already in the file when it was opened (captioned or failed). */
  done: Set<string>;
  /** Bytes of a torn last line that opening cut off (0 when the file ended cleanly). */
  cutBytes: number;
  /** Appends the lines and flushes them to disk before returning. */
  append(lines: CaptionLine[]): Promise<void>;
  close(): Promise<void>;
}

/** Byte offset just past the last newline of the file (0 when it has none): where whole lines end. */
async function endOfLastLine(file: string, sizeBytes: number): Promise<number> {
  const handle = await fs.open(file, 'r');
  try {
    const chunk = Buffer.alloc(TAIL_CHUNK_BYTES);
    for (let end = sizeBytes; end > 0;) {
      const start = Math.max(0, end - TAIL_CHUNK_BYTES);
      const { bytesRead } = await handle.read(chunk, 0, end - start, start);
      const at = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (at >= 0) return start + at + 1;
      end = start;
    }
    return 0;
  } finally {
    await handle.close();
  }
}

/** Read back from the end in pieces this big to find the last newline (a line is far shorter). */
const TAIL_CHUNK_BYTES = 64 * 1024;

/** Reads the images already there (streaming: memory holds their names, not the file), cutting a torn last line, then opens the file for appending. */
export async function openCaptionLog(file: string): Promise<CaptionLog> {
  const done = new Set<string>();
  let sizeBytes = 0;
  try {
    sizeBytes = (await fs.stat(file)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new CapgenError('NOT_FOUND', `cannot read: ${(e as Error).message}`, { file });
  }
  // Everything up to the last newline was written whole; what follows it is a torn write.
  const end = sizeBytes ? await endOfLastLine(file, sizeBytes) : 0;
  const cutBytes = sizeBytes - end;
  if (cutBytes) await fs.truncate(file, end);
  if (end > 0) {
    let lineNumber = 0;
    for await (const line of readline.createInterface({ input: createReadStream(file, { end: end - 1 }), crlfDelay: Infinity })) {
      lineNumber++;
      if (line.trim() === '') continue;
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch {
        row = undefined;
      }
      const image = (row as CaptionLine | undefined)?.image;
      if (typeof image !== 'string') {
        throw new CapgenError('BAD_INPUT', 'not a line of a caption output (a JSON object with "image")', {
          file,
          line: lineNumber,
          hint: '--out appends to a file capgen caption wrote; give another file name',
        });
      }
      done.add(image);
    }
  }
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const handle = await fs.open(file, 'a');
  return {
    file,
    done,
    cutBytes,
    async append(lines) {
      if (lines.length === 0) return;
      await handle.write(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
      await handle.datasync();
    },
    close: () => handle.close(),
  };
}
