import { describe, expect, it } from 'vitest';
import { CapgenError } from '../../src/errors.js';
import { parseShardSpec, shardOwns, shardOwnsPosition } from '../../src/util/shard.js';

describe('shard specs', () => {
  it('parses I/N', () => {
    expect(parseShardSpec('0/1')).toEqual({ index: 0, count: 1 });
    expect(parseShardSpec(' 3 / 8 ')).toEqual({ index: 3, count: 8 });
  });
  it.each(['3/3', '-1/2', '0/0', 'a/b', '1', '1/2/3', ''])('refuses %j with a usage error naming the flag', (text) => {
    let caught: unknown;
    try {
      parseShardSpec(text);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(CapgenError);
    expect((caught as CapgenError).code).toBe('USAGE');
    expect((caught as CapgenError).oneLine()).toContain('--shard');
  });
});

describe('shard assignment', () => {
  const names = Array.from({ length: 5000 }, (_, i) => `${1000 + i * 7}_img.jpg`);
  it('gives every item to exactly one shard, evenly', () => {
    const count = 4;
    const sizes = new Array<number>(count).fill(0);
    for (const name of names) {
      const owners = [...Array(count).keys()].filter((index) => shardOwns(name, { index, count }));
      expect(owners).toHaveLength(1);
      sizes[owners[0]]++;
    }
    for (const size of sizes) expect(Math.abs(size - names.length / count)).toBeLessThan(names.length * 0.05);
  });
  it('depends only on the name and the count, not on order', () => {
    const spec = { index: 1, count: 3 };
    const forward = names.filter((n) => shardOwns(n, spec));
    const backward = [...names].reverse().filter((n) => shardOwns(n, spec));
    expect(new Set(backward)).toEqual(new Set(forward));
  });
  it('assigns input files round-robin by position', () => {
    expect([0, 1, 2, 3, 4, 5].filter((p) => shardOwnsPosition(p, { index: 1, count: 3 }))).toEqual([1, 4]);
  });
});
