// ScratchPool: one array per role, reused while it fits, regrown (with headroom) when it does not.
import { describe, expect, it } from 'vitest';
import { ScratchPool } from '../../src/util/scratch.js';

describe('ScratchPool', () => {
  it('reuses a role while it fits, grows it when not, and keeps roles apart', () => {
    const pool = new ScratchPool();
    const a = pool.get('x', 100);
    a[0] = 7;
    const again = pool.get('x', 110); // within the 25% headroom: the same memory
    expect(again.length).toBe(110);
    expect(again.buffer).toBe(a.buffer);
    expect(again[0]).toBe(7);
    const grown = pool.get('x', 1000);
    expect(grown.length).toBe(1000);
    expect(grown.buffer).not.toBe(a.buffer);
    expect(pool.get('y', 100).buffer).not.toBe(grown.buffer);
  });
});
