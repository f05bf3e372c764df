// Seeded pseudo-random numbers for the synthetic dataset and the seeded CNN: the same seed gives
// the same scenes and weights on every machine (Math.random cannot be seeded).

export { mulberry32, type Rng } from '../util/random.js';
import type { Rng } from '../util/random.js';

/** Mixes a seed and an index into a new seed, so item i does not depend on how many items there are. */
export function deriveSeed(seed: number, index: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export function randInt(rng: Rng, minInclusive: number, maxInclusive: number): number {
  return minInclusive + Math.floor(rng() * (maxInclusive - minInclusive + 1));
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T;
}

/** Standard normal by Box-Muller (for seeded weights). */
export function gaussian(rng: Rng): number {
  const u = 1 - rng(); // in (0, 1]: log(0) would be -Infinity
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
