// Reading dataset text files: strict UTF-8 (a wrong encoding is an error naming the file), BOM
// dropped, any line ending (LF, CRLF, CR) accepted.
import { promises as fs } from 'node:fs';
import { CapgenError } from '../errors.js';

/** Bytes -> text. Throws BAD_INPUT naming `file` when the bytes are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  const utf16 = utf16Bom(bytes);
  if (utf16) {
    throw new CapgenError('BAD_INPUT', `the file is ${utf16} text (it starts with a ${utf16} byte-order mark), not UTF-8`, {
      file,
      hint: `re-save it as UTF-8, e.g. \`iconv -f ${utf16} -t UTF-8\``,
    });
  }
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

/** 'UTF-16LE' / 'UTF-16BE' when the bytes start with that byte-order mark (Windows editors' "Unicode"). */
function utf16Bom(bytes: Uint8Array): string | undefined {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return 'UTF-16LE';
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return 'UTF-16BE';
  return undefined;
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
