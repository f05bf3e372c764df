// Tiny datasets written by the tests themselves (no downloads, no ../shared).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TinyImage {
  name: string;
  captions: string[];
}

/** n images `img_000.jpg`.. with `perImage` captions each; words depend on the image index. */
export function tinyImages(n: number, perImage = 3): TinyImage[] {
  const colours = ['red', 'blue', 'green'];
  const animals = ['dog', 'cat', 'bird', 'horse'];
  return Array.from({ length: n }, (_, i) => ({
    name: `img_${String(i).padStart(3, '0')}.jpg`,
    captions: Array.from(
      { length: perImage },
      (_, j) => `A ${colours[(i + j) % 3]} ${animals[i % 4]} runs , fast ${j === 0 ? 'today' : ''}.`,
    ),
  }));
}

/** Image files only need to exist for a captions-only prepare (`--encoder none`). */
export function writeImages(dir: string, images: TinyImage[], skip: string[] = []): void {
  mkdirSync(path.join(dir, 'Images'), { recursive: true });
  for (const img of images)
    if (!skip.includes(img.name)) writeFileSync(path.join(dir, 'Images', img.name), 'not decoded without an encoder');
}

export function flickr8kTokenText(images: TinyImage[]): string {
  return images.flatMap((img) => img.captions.map((c, j) => `${img.name}#${j}\t${c}\n`)).join('');
}

export function kaggleText(images: TinyImage[]): string {
  return `image,caption\n${images.flatMap((img) => img.captions.map((c) => `${img.name},${c}\n`)).join('')}`;
}

/** A Flickr8k folder: Images/, token file and (optionally) split lists. */
export function writeFlickr8kDataset(dir: string, images: TinyImage[], lists?: { train: string[]; dev: string[]; test?: string[] }): void {
  writeImages(dir, images);
  writeFileSync(path.join(dir, 'Flickr8k.token.txt'), flickr8kTokenText(images));
  if (lists) {
    writeFileSync(path.join(dir, 'Flickr_8k.trainImages.txt'), lists.train.join('\n') + '\n');
    writeFileSync(path.join(dir, 'Flickr_8k.devImages.txt'), lists.dev.join('\n') + '\n');
    if (lists.test) writeFileSync(path.join(dir, 'Flickr_8k.testImages.txt'), lists.test.join('\n') + '\n');
  }
}
