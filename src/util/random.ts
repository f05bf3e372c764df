// The one seeded PRNG of capgen (Math.random cannot be seeded): splits, generated weights, the
// synthetic dataset and dropout all draw from it, so the same seed repeats on every machine.

/** A function returning uniform floats in [0, 1). */
export type Rng = () => number;

/** mulberry32: a tiny, well-mixed 32-bit generator. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
