// The synthetic dataset as values: names, scenes, captions and splits (pure; generate.ts writes it).
import { describeScene } from './captions.js';
import { deriveSeed, mulberry32 } from '../util/random.js';
import { randomScene, type Scene } from './scene.js';

export type SyntheticSplit = 'train' | 'dev' | 'test';

export interface SyntheticItem {
  /** File name under Images/, e.g. `scene_00042.png`. */
  image: string;
  scene: Scene;
  /** Five captions, Flickr8k style. */
  captions: string[];
  split: SyntheticSplit;
}

// 80/10/10, as the Flickr8k lists (6000/1000/1000) are roughly.
export const SPLIT_SHARES = { train: 0.8, dev: 0.1 } as const;

/** Split sizes for `count` images; dev and test get at least one image each once count >= 3. */
export function splitSizes(count: number): Record<SyntheticSplit, number> {
  const dev = count >= 3 ? Math.max(1, Math.round(count * SPLIT_SHARES.dev)) : 0;
  const test = count >= 3 ? Math.max(1, count - Math.round(count * SPLIT_SHARES.train) - dev) : 0;
  return { train: count - dev - test, dev, test };
}

export function imageName(index: number): string {
  return `scene_${String(index + 1).padStart(5, '0')}.png`;
}

/**
 * Scene i depends only on (seed, i), so growing `count` keeps earlier scenes. Scenes are
 * independent draws, so taking splits by position is as random as shuffling.
 */
export function syntheticItems(count: number, seed: number): SyntheticItem[] {
  const sizes = splitSizes(count);
  return Array.from({ length: count }, (_, i): SyntheticItem => {
    const scene = randomScene(mulberry32(deriveSeed(seed, i)));
    const split: SyntheticSplit = i < sizes.train ? 'train' : i < sizes.train + sizes.dev ? 'dev' : 'test';
    return { image: imageName(i), scene, captions: describeScene(scene), split };
  });
}
