// The seeded streams are part of capgen's results (splits, generated datasets and weights, shuffling,
// dropout): these values were taken before the generators were merged into util/random.ts.
import { describe, expect, it } from 'vitest';
import { deriveSeed, gaussian, mixSeed, mulberry32, pick, randInt } from '../../src/util/random.js';

describe('util/random', () => {
  it('keeps every stream bit for bit', () => {
    const r = mulberry32(42);
    expect([r(), r(), r()]).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
    expect([mixSeed(1, 2, 3), mixSeed(0), mixSeed(7, 0, 123456)]).toEqual([3034531621, 2705155257, 348027305]);
    expect([deriveSeed(1, 0), deriveSeed(1, 1), deriveSeed(99, 12345)]).toEqual([1238791538, 1901295881, 3177026752]);
    const g = mulberry32(5);
    expect([gaussian(g), gaussian(g)]).toEqual([0.21789461927371653, -0.5038217049793774]);
    const h = mulberry32(9);
    expect([randInt(h, 3, 9), pick(h, ['a', 'b', 'c', 'd'])]).toEqual([4, 'd']);
  });
});
