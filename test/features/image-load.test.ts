// Image decoding: formats, EXIF orientation, alpha, grey and CMYK to RGB, squash vs crop, broken files.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/features/image-load.js';
import { tempDir } from '../helpers.js';
import { writeBrokenImages } from './broken-images.js';

const px = (img: { pixels: Uint8Array; width: number }, y: number, x: number) => [
  ...img.pixels.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3),
];
const near = (got: number[], want: number[], tol = 12) => got.every((v, i) => Math.abs(v - want[i]) <= tol);

/** width x height RGB image, columns [0, split) red, the rest blue. */
function halves(width: number, height: number, split = width / 2): Sharp {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(x < split ? [255, 0, 0] : [0, 0, 255], (y * width + x) * 3);
  return sharp(data, { raw: { width, height, channels: 3 } });
}

describe('decodeImage', () => {
  const dir = tempDir('capgen-img-');

  it('reads JPEG, PNG, WebP, TIFF and the first frame of a GIF as RGB at the requested size', async () => {
    const files: Record<string, Buffer> = {
      'a.jpg': await halves(40, 30).jpeg({ quality: 95 }).toBuffer(),
      'a.png': await halves(40, 30).png().toBuffer(),
      'a.webp': await halves(40, 30).webp({ lossless: true }).toBuffer(),
      'a.tiff': await halves(40, 30).tiff().toBuffer(),
    };
    // Two-frame GIF: red/blue halves first, then all green.
    const green = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#00ff00' } })
      .png()
      .toBuffer();
    files['a.gif'] = await sharp([await halves(40, 30).png().toBuffer(), green], { join: { animated: true } })
      .gif()
      .toBuffer();
    for (const [name, data] of Object.entries(files)) {
      await fs.writeFile(path.join(dir, name), data);
      const img = await decodeImage(path.join(dir, name), { size: [6, 8], resize: 'squash' });
      expect(img.pixels.length, name).toBe(6 * 8 * 3);
      expect(near(px(img, 3, 0), [255, 0, 0]), `${name} left ${px(img, 3, 0)}`).toBe(true);
      expect(near(px(img, 3, 7), [0, 0, 255]), `${name} right ${px(img, 3, 7)}`).toBe(true);
    }
  });

  it('applies EXIF orientation', async () => {
    // Stored 40 wide x 20 high, red left; orientation 6 = display rotated 90 degrees clockwise: red on top.
    const file = path.join(dir, 'rotated.jpg');
    await fs.writeFile(file, await halves(40, 20).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer());
    const img = await decodeImage(file, { size: [40, 20], resize: 'squash' });
    expect(near(px(img, 2, 10), [255, 0, 0]), `top ${px(img, 2, 10)}`).toBe(true);
    expect(near(px(img, 37, 10), [0, 0, 255]), `bottom ${px(img, 37, 10)}`).toBe(true);
  });

  it('flattens alpha onto white and turns grey and CMYK into RGB', async () => {
    const transparent = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer();
    expect(px(await decodeImage(transparent, { size: [4, 4], resize: 'squash' }), 1, 1)).toEqual([255, 255, 255]);
    const grey = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#646464' } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect((await sharp(grey).metadata()).channels).toBe(1);
    expect(px(await decodeImage(grey, { size: [4, 4], resize: 'squash' }), 1, 1)).toEqual([100, 100, 100]);
    const cmyk = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#ff0000' } })
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const red = px(await decodeImage(cmyk, { size: [4, 4], resize: 'squash' }), 1, 1);
    expect(red[0] > 180 && red[1] < 80 && red[2] < 80, `cmyk red -> ${red}`).toBe(true);
  });

  it('squash stretches the whole image; crop keeps the centre at its aspect ratio', async () => {
    // 90x30: red for x < 30, blue beyond. Squash to 3x3 keeps red in the first column;
    // crop takes the centre 30x30 (x 30..60), all blue.
    const data = await halves(90, 30, 30).png().toBuffer();
    const squash = await decodeImage(data, { size: [3, 3], resize: 'squash' });
    const crop = await decodeImage(data, { size: [3, 3], resize: 'crop' });
    expect(px(squash, 1, 0)).toEqual([255, 0, 0]);
    expect(px(squash, 1, 2)).toEqual([0, 0, 255]);
    for (let x = 0; x < 3; x++) expect(px(crop, 1, x)).toEqual([0, 0, 255]);
  });

  it('rejects each kind of broken image with a one-line reason', async () => {
    const broken = path.join(dir, 'broken');
    const kinds = await writeBrokenImages(broken);
    for (const name of Object.keys(kinds)) {
      const err = await decodeImage(path.join(broken, name), { size: [8, 8], resize: 'squash' }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err, `${name} (${kinds[name]}) must be rejected`).toBeInstanceOf(Error);
      expect(err?.message.length).toBeGreaterThan(0);
    }
    const huge = await decodeImage(path.join(broken, 'huge.png'), { size: [8, 8], resize: 'squash' }).catch((e: Error) => e.message);
    expect(huge).toMatch(/pixel limit/i);
  });
});
