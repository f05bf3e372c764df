// Split assignment: official lists, Karpathy's carried split, and the seeded random split.
import { describe, expect, it } from 'vitest';
import { assignSplits, parseSplitRatios, randomSplit } from '../../src/prepare/splits.js';

const names = Array.from({ length: 100 }, (_, i) => `img${i}.jpg`);

describe('random split', () => {
  it('is deterministic: same images and seed -> same split, whatever the input order', () => {
    const a = randomSplit(names, [0.8, 0.1, 0.1], 7);
    const b = randomSplit([...names].reverse(), [0.8, 0.1, 0.1], 7);
    expect([...a].sort()).toEqual([...b].sort());
  });

  it('another seed gives another split with the same sizes', () => {
    const a = randomSplit(names, [0.8, 0.1, 0.1], 7);
    const c = randomSplit(names, [0.8, 0.1, 0.1], 8);
    const count = (m: Map<string, string>, s: string) => [...m.values()].filter((x) => x === s).length;
    expect([count(a, 'train'), count(a, 'dev'), count(a, 'test')]).toEqual([80, 10, 10]);
    expect([count(c, 'train'), count(c, 'dev'), count(c, 'test')]).toEqual([80, 10, 10]);
    expect(names.some((n) => a.get(n) !== c.get(n))).toBe(true);
  });

  it('parses and validates --split shares', () => {
    expect(parseSplitRatios('0.7, 0.2,0.1')).toEqual([0.7, 0.2, 0.1]);
    expect(() => parseSplitRatios('0.8,0.1')).toThrowError(/three shares/);
    expect(() => parseSplitRatios('0.8,0.3,0.1')).toThrowError(/sum to 1/);
  });
});

describe('assignSplits', () => {
  it('official lists win; images in no list are reported; a missing list is noted and empty', () => {
    const r = assignSplits({
      images: ['a', 'b', 'c', 'd'],
      lists: { train: ['a', 'b', 'x'], dev: ['c', 'a'] },
      ratios: [0.8, 0.1, 0.1],
      seed: 1,
    });
    expect(r.source).toBe('official');
    expect(Object.fromEntries(r.byImage)).toEqual({ a: 'train', b: 'train', c: 'dev' });
    expect(r.unlisted).toEqual(['d']);
    expect(r.inSeveralLists).toEqual(['a']);
    expect(r.notes).toEqual(['no test split list: the test split is empty']);
  });

  it('uses the carried (Karpathy) split when there are no lists', () => {
    const r = assignSplits({
      images: ['a', 'b'],
      carried: new Map([
        ['a', 'dev'],
        ['b', 'test'],
      ] as const),
      ratios: [0.8, 0.1, 0.1],
      seed: 1,
    });
    expect(r.source).toBe('karpathy');
    expect(Object.fromEntries(r.byImage)).toEqual({ a: 'dev', b: 'test' });
  });

  it('falls back to the random split, and --split forces it over lists', () => {
    expect(assignSplits({ images: names, ratios: [0.8, 0.1, 0.1], seed: 3 }).source).toBe('random');
    const forced = assignSplits({ images: names, lists: { train: names }, forceRandom: true, ratios: [0.5, 0.5, 0], seed: 3 });
    expect(forced.source).toBe('random');
    expect([...forced.byImage.values()].filter((s) => s === 'dev')).toHaveLength(50);
  });
});
