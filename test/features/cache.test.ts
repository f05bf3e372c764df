// The feature cache: round trip, float16, resume after a torn write or a kill, and separate caches per identity.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CACHE_FILES, cacheKey, openCacheWriter, openFeatureCache, type CacheMeta } from '../../src/features/cache.js';
import { float16ToFloat32, float32ToFloat16 } from '../../src/features/float16.js';
import type { EncoderIdentity } from '../../src/run/formats.js';
import { tempDir } from '../helpers.js';

const identity: EncoderIdentity = {
  architecture: 'tfjs-layers',
  weightsHash: 'abc',
  layer: 'conv_dw_13_relu',
  preprocess: 'tf',
  resize: 'squash',
  pooling: 'avg',
  inputSize: [224, 224],
  featureShape: [3],
};
const meta: CacheMeta = { identity, dtype: 'float32', dim: 3 };
const rows = (...values: number[]) => Float32Array.from(values);

describe('feature cache', () => {
  const root = tempDir('capgen-cache-');

  it('round-trips rows batch by batch and skips what is there on reopen', async () => {
    const dir = path.join(root, 'a');
    const w = await openCacheWriter(dir, meta);
    await w.append(['x.jpg', 'y.jpg'], rows(1, 2, 3, 4, 5, 6));
    await w.append(['z.jpg'], rows(7, 8, 9));
    await w.close();
    const again = await openCacheWriter(dir, meta);
    expect(['x.jpg', 'y.jpg', 'z.jpg', 'w.jpg'].map((n) => again.has(n))).toEqual([true, true, true, false]);
    expect(again.rowCount).toBe(3);
    await again.close();
    const c = await openFeatureCache(dir);
    expect(c.names()).toEqual(['x.jpg', 'y.jpg', 'z.jpg']);
    expect(c.dim).toBe(3);
    expect([...(c.get('y.jpg') as Float32Array)]).toEqual([4, 5, 6]);
    expect(c.get('nope.jpg')).toBeUndefined();
    c.close();
  });

  it('drops a torn index line and vector bytes of an uncommitted batch, then appends correctly', async () => {
    const dir = path.join(root, 'b');
    const w = await openCacheWriter(dir, meta);
    await w.append(['a'], rows(1, 1, 1));
    await w.append(['b'], rows(2, 2, 2));
    await w.close();
    // kill -9 in the middle of the next batch: half its vectors written, half its index line.
    await fs.appendFile(path.join(dir, CACHE_FILES.vectors), Buffer.from(rows(3, 3).buffer));
    await fs.appendFile(path.join(dir, CACHE_FILES.index), '{"firstRow":2,"names":["c"');
    const reader = await openFeatureCache(dir);
    expect(reader.names()).toEqual(['a', 'b']);
    const resumed = await openCacheWriter(dir, meta);
    expect(resumed.has('c')).toBe(false);
    await resumed.append(['c'], rows(3, 3, 3));
    await resumed.close();
    const c = await openFeatureCache(dir);
    expect(c.names()).toEqual(['a', 'b', 'c']);
    expect([...(c.get('c') as Float32Array)]).toEqual([3, 3, 3]);
    expect((await fs.stat(path.join(dir, CACHE_FILES.vectors))).size).toBe(9 * 4);
  });

  it('never reads a last batch whose bytes do not match its hash (index written, vectors torn)', async () => {
    const dir = path.join(root, 'c');
    const w = await openCacheWriter(dir, meta);
    await w.append(['a'], rows(1, 1, 1));
    await w.append(['b', 'c'], rows(2, 2, 2, 3, 3, 3));
    await w.close();
    // Corrupt the last batch's bytes in place (as if the page never reached the disk).
    const handle = await fs.open(path.join(dir, CACHE_FILES.vectors), 'r+');
    await handle.write(Buffer.alloc(8), 0, 8, 5 * 4);
    await handle.close();
    const c = await openFeatureCache(dir);
    expect(c.names()).toEqual(['a']);
    // And a vectors file shorter than the index claims:
    const dir2 = path.join(root, 'c2');
    const w2 = await openCacheWriter(dir2, meta);
    await w2.append(['a'], rows(1, 1, 1));
    await w2.append(['b'], rows(2, 2, 2));
    await w2.close();
    await fs.truncate(path.join(dir2, CACHE_FILES.vectors), 4 * 4);
    expect((await openFeatureCache(dir2)).names()).toEqual(['a']);
  });

  it('stores float16 within half precision', async () => {
    const dir = path.join(root, 'd');
    const w = await openCacheWriter(dir, { ...meta, dtype: 'float16' });
    await w.append(['a'], rows(0.1, -2.5, 1000.3));
    await w.close();
    const got = (await openFeatureCache(dir)).get('a') as Float32Array;
    expect(got[0]).toBeCloseTo(0.1, 3);
    expect(got[1]).toBe(-2.5);
    expect(Math.abs(got[2] - 1000.3)).toBeLessThan(0.5);
    expect((await fs.stat(path.join(dir, CACHE_FILES.vectors))).size).toBe(6);
  });

  it('float16 conversion matches known bit patterns, including subnormals, rounding and overflow', () => {
    const values = rows(1, -2, 65504, 65520, 6.103515625e-5, 5.960464477539063e-8, 0, 1 + 2 ** -11, 1 + 3 * 2 ** -11, Infinity);
    expect([...float32ToFloat16(values)]).toEqual([0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0400, 0x0001, 0, 0x3c00, 0x3c02, 0x7c00]);
    expect([...float16ToFloat32(Uint16Array.from([0x3c00, 0x0001, 0x7bff, 0xfc00]))]).toEqual([1, 5.960464477539063e-8, 65504, -Infinity]);
  });

  it('gives a different folder to a different encoder or preprocessing, and refuses to mix', async () => {
    const k = cacheKey(identity, 'float32');
    expect(cacheKey({ ...identity, source: '/elsewhere/model.json' }, 'float32')).toBe(k); // where the model lives is informational
    for (const change of [
      { preprocess: 'caffe' as const },
      { weightsHash: 'abd' },
      { layer: 'x' },
      { resize: 'crop' as const },
      { pooling: 'none' as const },
    ]) {
      expect(cacheKey({ ...identity, ...change }, 'float32')).not.toBe(k);
    }
    expect(cacheKey(identity, 'float16')).not.toBe(k);
    const dir = path.join(root, 'e');
    await (await openCacheWriter(dir, meta)).close();
    await expect(openCacheWriter(dir, { ...meta, identity: { ...identity, preprocess: 'caffe' } })).rejects.toThrow(/different encoder/);
  });
});
