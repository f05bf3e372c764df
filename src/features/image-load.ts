// Image decoding with sharp: any common format -> RGB pixels at the encoder's input size.
// Decoding runs in libuv threads, so callers can overlap it with model compute.
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import type { EncoderIdentity } from '../run/formats.js';

/**
 * Largest image we agree to decode: 100 megapixels (e.g. 10000x10000). Bigger inputs are almost
 * always corrupt or hostile and would need gigabytes to decode; sharp rejects them before decoding.
 */
export const MAX_INPUT_PIXELS = 100_000_000;

/**
 * Interpolation: nearest neighbour, which is what Keras `load_img(target_size=...)` uses by default
 * (interpolation='nearest'), so features match those of the Keras project on the same images.
 */
export const RESIZE_KERNEL = 'nearest' as const;

export interface DecodedImage {
  /** [height, width, 3] RGB, row-major, 0..255. */
  pixels: Uint8Array;
  height: number;
  width: number;
}

export interface LoadOptions {
  /** [height, width] of the output. */
  size: [number, number];
  resize: EncoderIdentity['resize'];
}

/**
 * Decode JPEG / PNG / WebP / GIF (first frame) / TIFF (first page) from a file path or buffer:
 * EXIF orientation applied, alpha flattened onto white, grey / CMYK / 16-bit converted to 8-bit sRGB,
 * then `squash` (stretch to size, aspect ratio not kept, like Keras) or `crop` (scale the short side
 * to fit, then centre crop). Throws on unreadable input (sharp's message).
 */
export async function decodeImage(input: string | Buffer, opts: LoadOptions): Promise<DecodedImage> {
  const [height, width] = opts.size;
  if (typeof input === 'string') {
    // sharp's message for an empty file is obscure ("Input file is missing"); say what it is.
    const stat = await fs.stat(input);
    if (stat.size === 0) throw new Error('empty file (0 bytes)');
  } else if (input.length === 0) {
    throw new Error('empty input (0 bytes)');
  }
  const { data, info } = await sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error', pages: 1 })
    .rotate() // EXIF orientation
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .toColourspace('srgb')
    .resize(width, height, { fit: opts.resize === 'crop' ? 'cover' : 'fill', position: 'centre', kernel: RESIZE_KERNEL })
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== width || info.height !== height) {
    throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x3`);
  }
  return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), height, width };
}

/** Why an image could not be read, in one line (sharp's messages can span several). */
export function decodeFailure(e: unknown): string {
  const message = (e instanceof Error ? e.message : String(e)).split('\n')[0].trim() || 'unreadable image';
  return /pixel limit/i.test(message) ? `${message} (more than ${MAX_INPUT_PIXELS / 1e6} megapixels)` : message;
}

/** Decoded images ([h, w, 3] uint8 each, h x w = size) packed into one [n, h, w, 3] array of `make`'s type. */
export function packPixels<T extends Float32Array | Uint8Array>(
  pixels: Uint8Array[],
  size: [number, number],
  make: (length: number) => T,
): T {
  const per = size[0] * size[1] * 3;
  const packed = make(pixels.length * per);
  pixels.forEach((p, i) => {
    if (p.length !== per) throw new Error(`image ${i} has ${p.length} values, expected ${size[0]}x${size[1]}x3`);
    packed.set(p, i * per);
  });
  return packed;
}
