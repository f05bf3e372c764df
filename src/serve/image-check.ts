// Decides whether an upload is an image by decoding it with sharp (never by its name or declared type),
// and sorts failures into the client errors the API reports: empty, not an image, truncated/corrupt.
import sharp, { type Metadata } from 'sharp';
import { HttpError } from './http-error.js';

/** Raster formats sharp decodes; SVG is refused because it is a document that the renderer would interpret. */
const ACCEPTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']);

/** Largest decoded image: 50 megapixels covers phone cameras and stops decompression bombs (a 10 MB PNG can claim 1e9 pixels). */
export const MAX_INPUT_PIXELS = 50_000_000;

export interface CheckedImage {
  format: string;
  width: number;
  height: number;
}

/** Throws an HttpError (400/415/422) unless `image` decodes completely as a raster image. */
export async function checkImage(image: Buffer): Promise<CheckedImage> {
  if (image.length === 0) {
    throw new HttpError(400, 'EMPTY_FILE', 'the uploaded file is empty (0 bytes)', 'choose a JPEG, PNG, WebP, GIF or TIFF image');
  }
  let meta: Metadata;
  try {
    meta = await sharp(image, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  } catch (e) {
    if (/pixel limit/i.test(String((e as Error).message))) throw tooManyPixels();
    const sniffed = sniffFormat(image);
    if (sniffed)
      throw new HttpError(
        422,
        'CORRUPT_IMAGE',
        `the ${sniffed} image is truncated or corrupt (its header cannot be read)`,
        'upload the complete file again',
      );
    throw new HttpError(415, 'NOT_AN_IMAGE', 'the upload is not an image that can be decoded', 'send a JPEG, PNG, WebP, GIF or TIFF image');
  }
  const format = meta.format ?? 'unknown';
  if (!ACCEPTED_FORMATS.has(format) || !meta.width || !meta.height) {
    throw new HttpError(415, 'NOT_AN_IMAGE', `'${format}' is not an accepted image format`, 'send a JPEG, PNG, WebP, GIF or TIFF image');
  }
  if (meta.width * meta.height > MAX_INPUT_PIXELS) throw tooManyPixels(`${meta.width}x${meta.height} pixels, `);
  try {
    // A full decode (at a tiny output size, so it stays cheap) is the only way to notice a file cut short.
    await sharp(image, { failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS }).resize(32, 32, { fit: 'fill' }).raw().toBuffer();
  } catch (e) {
    const why = String((e as Error).message ?? e).split('\n')[0];
    throw new HttpError(422, 'CORRUPT_IMAGE', `the ${format} image is truncated or corrupt (${why})`, 'upload the complete file again');
  }
  return { format, width: meta.width, height: meta.height };
}

function tooManyPixels(size = ''): HttpError {
  return new HttpError(413, 'TOO_MANY_PIXELS', `the image is ${size}more than ${MAX_INPUT_PIXELS / 1e6} megapixels`, 'downscale it first');
}

/** The format a file's first bytes claim, so that a cut-off image is reported as such, not as "not an image". */
function sniffFormat(bytes: Buffer): string | undefined {
  const starts = (sig: number[], at = 0) => sig.every((b, i) => bytes[at + i] === b);
  if (starts([0xff, 0xd8, 0xff])) return 'jpeg';
  if (starts([0x89, 0x50, 0x4e, 0x47])) return 'png';
  if (starts([0x47, 0x49, 0x46, 0x38])) return 'gif';
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return 'webp';
  if (starts([0x49, 0x49, 0x2a, 0x00]) || starts([0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  return undefined;
}
