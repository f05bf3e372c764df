// Small JPEG thumbnails as data: URIs, so the HTML report opens from disk with its images inside.
import { existsSync } from 'node:fs';
import sharp from 'sharp';

/** Longest side of a thumbnail: enough to recognise the scene, ~3-6 KB each as JPEG. */
export const THUMBNAIL_SIZE = 160;
const JPEG_QUALITY = 60; // thumbnails only need to be recognisable
const CONCURRENCY = 8; // sharp decodes on libuv threads; more in flight only adds memory

/** data:image/jpeg;base64,... for one image file, or undefined when it is missing or unreadable. */
export async function thumbnailDataUri(file: string): Promise<string | undefined> {
  if (!existsSync(file)) return undefined;
  try {
    const jpeg = await sharp(file, { failOn: 'error' })
      .rotate()
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside' })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: JPEG_QUALITY })
      .toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch {
    return undefined;
  }
}

/** Thumbnails of many files, a few at a time; undefined where a file is missing or unreadable. */
export async function thumbnails(files: string[]): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = new Array(files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      out[i] = await thumbnailDataUri(files[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, files.length) }, worker));
  return out;
}
