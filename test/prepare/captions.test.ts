// Cleaning captions as read: duplicates, empty captions, --max-length, length percentiles.
import { describe, expect, it } from 'vitest';
import { capLength, cleanCaptions, lengthPercentiles } from '../../src/prepare/captions.js';
import { DEFAULT_CLEANING } from '../../src/text/clean.js';

const raw = (id: string, text: string, line: number) => ({ image: id.split('#')[0]!, raw: text, id, line });

describe('cleanCaptions', () => {
  it('cleans with the shared rules, keeps the first of duplicated ids, skips empty captions', () => {
    const out = cleanCaptions(
      [
        raw('a.jpg#0', 'A Dog, running!', 1),
        raw('a.jpg#0', 'another', 2),
        raw('a.jpg#1', '', 3),
        raw('a.jpg#2', ' 42 ... ', 4),
        raw('b.jpg#0', 'A cat', 5),
      ],
      { file: 't.txt', rules: DEFAULT_CLEANING },
    );
    expect(out.captions.map((c) => [c.id, c.tokens])).toEqual([
      ['a.jpg#0', ['a', 'dog', 'running']],
      ['b.jpg#0', ['a', 'cat']],
    ]);
    expect(out.duplicates.map((d) => d.line)).toEqual([2]);
    expect(out.duplicates[0]!.message).toMatch(/first at line 1/);
    expect(out.empty.map((d) => d.line)).toEqual([3, 4]);
  });
});

describe('lengths', () => {
  it('capLength cuts only longer captions and counts them', () => {
    const caps = [{ tokens: ['a', 'b', 'c'] }, { tokens: ['a'] }, { tokens: ['a', 'b', 'c', 'd'] }] as Parameters<typeof capLength>[0];
    expect(capLength(caps, 2)).toBe(2);
    expect(caps.map((c) => c.tokens.length)).toEqual([2, 1, 2]);
    expect(capLength(caps, undefined)).toBe(0);
  });

  it('percentiles use the nearest rank', () => {
    const lengths = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(lengthPercentiles(lengths)).toEqual({ p50: 50, p90: 90, p95: 95, p99: 99, max: 100 });
    expect(lengthPercentiles([7])).toEqual({ p50: 7, p90: 7, p95: 7, p99: 7, max: 7 });
  });
});
