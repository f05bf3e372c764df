// The image-blind baseline of the e2e tests: the best constant caption (one training caption given
// to every test image, the one that scores highest on the test references themselves: no captioner
// that ignores the image can do better than that oracle).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { corpusBleu } from '../../src/evaluate/metrics/index.js';
import type { PreparedCaption } from '../../src/run/formats.js';

export function readCaptions(runDir: string): PreparedCaption[] {
  return readFileSync(path.join(runDir, 'captions.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as PreparedCaption);
}

/** The training caption with the highest corpus BLEU-4 when given to every test image. */
export function bestConstantCaption(captions: PreparedCaption[]): { caption: string; bleu4: number; images: string[] } {
  const refsByImage = new Map<string, string[][]>();
  for (const c of captions) if (c.split === 'test') refsByImage.set(c.image, [...(refsByImage.get(c.image) ?? []), c.tokens]);
  const references = [...refsByImage.values()];
  const candidates = new Map(captions.filter((c) => c.split === 'train').map((c) => [c.tokens.join(' '), c.tokens]));
  let best = { caption: '', bleu4: -1 };
  for (const [caption, tokens] of candidates) {
    const bleu4 = corpusBleu(
      references,
      references.map(() => tokens),
    ).bleu[3]!;
    if (bleu4 > best.bleu4) best = { caption, bleu4 };
  }
  return { ...best, images: [...refsByImage.keys()] };
}
