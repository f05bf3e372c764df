// Where the feature step gets image bytes from: files in a folder, or members of tar files read as
// streams (webdataset). Either way the consumer sees (name, bytes) one image at a time, so memory holds
// only the images it is working on.
import { promises as fs } from 'node:fs';

/** One image's bytes, or why they could not be read. */
export type SourcedImage = { name: string; bytes: Buffer; error?: undefined } | { name: string; bytes?: undefined; error: string };

export interface ImageSource {
  /** Where the images are, for messages (a folder, a tar pattern). */
  where: string;
  /**
   * Yields each of `names` once (in the source's order: the order given, for files), with its bytes or
   * the reason it cannot be read. A source that cannot be read at all (a damaged tar) throws.
   */
  read(names: readonly string[]): AsyncIterable<SourcedImage>;
}

/** Files read at once: reads overlap, memory stays a few images' worth. */
const FILE_READ_AHEAD = 8;

async function readImageFile(name: string, file: string): Promise<SourcedImage> {
  try {
    const bytes = await fs.readFile(file);
    // sharp's message for an empty file is obscure ("Input file is missing"); say what it is.
    return bytes.length === 0 ? { name, error: 'empty file (0 bytes)' } : { name, bytes };
  } catch (e) {
    return { name, error: (e as Error).message.split('\n')[0]! };
  }
}

/** Image files: `pathOf(name)` says where each is. */
export function fileImageSource(where: string, pathOf: (name: string) => string): ImageSource {
  return {
    where,
    async *read(names) {
      const pending: Promise<SourcedImage>[] = [];
      let next = 0;
      while (next < names.length && pending.length < FILE_READ_AHEAD) pending.push(readImageFile(names[next]!, pathOf(names[next++]!)));
      while (pending.length) {
        const item = await pending.shift()!;
        if (next < names.length) pending.push(readImageFile(names[next]!, pathOf(names[next++]!)));
        yield item;
      }
    },
  };
}

/** Groups a stream of items into arrays of `size` (the last may be shorter). */
export async function* inBatches<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}
