// Reading a tar file as a stream of its regular files (tar-stream): nothing is unpacked to disk, and a
// member's bytes are held only when the caller wants them, one member at a time.
import { createReadStream } from 'node:fs';
import * as tar from 'tar-stream';
import { CapgenError } from '../errors.js';

/**
 * Largest member read into memory: 100 MB, above any real photo (sharp refuses more than 100 megapixels
 * anyway); a bigger one is reported, not read, so a strange tar cannot exhaust memory.
 */
export const MAX_MEMBER_BYTES = 100 * 1024 * 1024;

export interface TarMember {
  /** The member's path inside the tar. */
  name: string;
  sizeBytes: number;
  /** Present when `wanted(name)` said so and the member is not too large. */
  bytes?: Buffer;
  /** Why a wanted member's bytes are absent. */
  error?: string;
}

/** A damaged, truncated or foreign file as a one-line error naming the tar. */
function tarError(file: string, e: unknown): CapgenError {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT' || err?.code === 'EACCES' || err?.code === 'EISDIR')
    return new CapgenError('NOT_FOUND', `cannot read the tar file: ${err.message}`, { file, cause: e });
  const message = (err?.message ?? String(e)).split('\n')[0];
  const truncated = /unexpected end/i.test(message);
  return new CapgenError('BAD_INPUT', truncated ? `truncated tar file (${message})` : `not a readable tar file (${message})`, {
    file,
    hint: truncated
      ? 'the shard was cut short (an interrupted download or copy): fetch it again, or leave it out of --data'
      : 'webdataset shards are plain (uncompressed) tar files; gunzip a .tar.gz first',
    cause: e,
  });
}

/** Every regular file of the tar, in order; bytes only for the members `wanted` names. */
export async function* readTarMembers(file: string, wanted: (name: string) => boolean): AsyncGenerator<TarMember> {
  const extract = tar.extract();
  const input = createReadStream(file);
  input.on('error', (e) => extract.destroy(e));
  input.pipe(extract);
  try {
    for await (const entry of extract) {
      const { name, type, size = 0 } = entry.header;
      if ((type !== 'file' && type !== 'contiguous-file') || !wanted(name)) {
        entry.resume();
        if (type === 'file' || type === 'contiguous-file') yield { name, sizeBytes: size };
        continue;
      }
      if (size > MAX_MEMBER_BYTES) {
        entry.resume();
        yield { name, sizeBytes: size, error: `larger than ${MAX_MEMBER_BYTES / 1024 / 1024} MB (${size} bytes): not read` };
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      yield { name, sizeBytes: size, bytes: Buffer.concat(chunks) };
    }
  } catch (e) {
    throw tarError(file, e);
  } finally {
    input.destroy();
    extract.destroy();
  }
}
