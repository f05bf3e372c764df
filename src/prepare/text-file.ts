// Reading dataset text files: strict UTF-8 (a wrong encoding is an error naming the file), BOM
// dropped, any line ending (LF, CRLF, CR) accepted.
import { promises as fs } from 'node:fs';
import { CapgenError } from '../errors.js';

/** Bytes -> text. Throws BAD_INPUT naming `file` when the bytes are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CapgenError('BAD_INPUT', 'not valid UTF-8 text', {
      file,
      hint: 're-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`',
    });
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Text -> lines without their line ends; line i (0-based) is file line i + 1. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export async function readTextFile(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    throw new CapgenError('NOT_FOUND', `cannot read: ${(e as Error).message}`, { file, cause: e });
  }
  return decodeUtf8(bytes, file);
}
