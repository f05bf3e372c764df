// Writes one file of each kind of unreadable image that prepare must report and skip.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';

/** A PNG whose header claims width x height (30000x30000 = 900 megapixels) but holds one tiny row. */
async function hugePng(width: number, height: number): Promise<Buffer> {
  const png = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
  // IHDR data starts at byte 16 (8 signature + 4 length + 4 type); its CRC follows 13 bytes later.
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(zlib.crc32(png.subarray(12, 29)), 29);
  return png;
}

/** name -> what is wrong with it */
export async function writeBrokenImages(dir: string): Promise<Record<string, string>> {
  await fs.mkdir(dir, { recursive: true });
  const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#3366cc' } })
    .jpeg()
    .toBuffer();
  await fs.writeFile(path.join(dir, 'empty.jpg'), Buffer.alloc(0));
  await fs.writeFile(path.join(dir, 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  await fs.writeFile(path.join(dir, 'text.jpg'), 'this is not an image\n');
  await fs.writeFile(path.join(dir, 'huge.png'), await hugePng(30000, 30000));
  return { 'empty.jpg': 'zero bytes', 'truncated.jpg': 'truncated JPEG', 'text.jpg': 'text named .jpg', 'huge.png': '30000x30000 pixels' };
}
