// A stand-in for the model in HTTP tests: it decodes the upload with sharp (so it only works on real
// images) and names the dominant colour, and it records how many calls overlapped (the queue must prevent that).
import sharp from 'sharp';
import type { Captioner, CaptionResult } from '../../src/serve/types.js';

const COLOURS: [string, [number, number, number]][] = [
  ['red', [255, 0, 0]],
  ['green', [0, 255, 0]],
  ['blue', [0, 0, 255]],
  ['white', [255, 255, 255]],
  ['black', [0, 0, 0]],
  ['yellow', [255, 255, 0]],
];

export interface FakeCaptioner extends Captioner {
  calls: number;
  /** Most calls ever running at once. */
  maxConcurrent: number;
  disposed: boolean;
}

/** delayMs: time each call holds the "model"; fail: makes caption() throw this error instead. */
export function fakeCaptioner(opts: { delayMs?: number; fail?: () => Error } = {}): FakeCaptioner {
  let running = 0;
  const fake: FakeCaptioner = {
    calls: 0,
    maxConcurrent: 0,
    disposed: false,
    async caption(image: Buffer, { beamSize }): Promise<CaptionResult> {
      fake.calls++;
      running++;
      fake.maxConcurrent = Math.max(fake.maxConcurrent, running);
      try {
        if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
        if (opts.fail) throw opts.fail();
        const { channels } = await sharp(image).removeAlpha().stats();
        const mean = channels.slice(0, 3).map((c) => c.mean);
        const ranked = COLOURS.map(([name, rgb]) => ({ name, dist: Math.hypot(...rgb.map((v, i) => v - (mean[i] ?? 0))) })).sort(
          (a, b) => a.dist - b.dist,
        );
        const captions = ranked.map((c) => ({ caption: `a ${c.name} image`, score: -c.dist / 100 }));
        return beamSize > 1 ? { caption: captions[0]!.caption, beams: captions.slice(0, beamSize) } : { caption: captions[0]!.caption };
      } finally {
        running--;
      }
    },
    describe: () => ({ model: 'fake-colour-namer', encoder: 'sharp mean colour', backend: 'none (test)' }),
    dispose() {
      fake.disposed = true;
    },
  };
  return fake;
}
