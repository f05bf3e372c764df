// How training holds the feature matrix (src/train/data.ts): float16 for spatial maps by default
// (half the memory), float32 for pooled vectors, and batches widened back to float32 (batches.ts).
import { describe, expect, it } from 'vitest';
import { buildBatch } from '../../src/train/batches.js';
import { loadTrainingData, resolveFeaturesDtype } from '../../src/train/data.js';
import { MemoryFeatureStore } from '../../src/train/feature-store.js';
import { tempDir } from '../helpers.js';
import { writeTinyRun } from './fixtures.js';

describe('training feature storage', () => {
  it('auto holds spatial maps as float16 and pooled vectors as float32', () => {
    expect(resolveFeaturesDtype('auto', [7, 7, 1024])).toBe('float16');
    expect(resolveFeaturesDtype('auto', [2048])).toBe('float32');
    expect(resolveFeaturesDtype('float32', [7, 7, 1024])).toBe('float32');
    expect(resolveFeaturesDtype('float16', [2048])).toBe('float16');
  });

  it('float16 rows come back in batches within float16 rounding of the float32 ones, at half the bytes', async () => {
    const tiny = writeTinyRun(tempDir(), { featureShape: [2, 2, 6] });
    const half = await loadTrainingData(tiny.runDir, tiny.openFeatures, { layout: 'spatial' });
    const full = await loadTrainingData(tiny.runDir, tiny.openFeatures, { layout: 'spatial', dtype: 'float32' });
    expect(half.features).toBeInstanceOf(MemoryFeatureStore);
    expect(full.features).toBeInstanceOf(MemoryFeatureStore);
    expect([half.features.dtype, full.features.dtype]).toEqual(['float16', 'float32']);
    expect((half.features as MemoryFeatureStore).byteLength * 2).toBe((full.features as MemoryFeatureStore).byteLength);
    const picks = [0, 5, 17, 30];
    const a = buildBatch(half.train, picks, half.features, half.featureSize).features;
    const b = buildBatch(full.train, picks, full.features, full.featureSize).features;
    expect(a).toBeInstanceOf(Float32Array);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 2 ** -14));
    expect(worst).toBeGreaterThan(0); // really rounded...
    expect(worst).toBeLessThanOrEqual(2 ** -11); // ...to float16's half-ulp
    // The rows are the images' own features.
    const image = [...tiny.features.keys()][full.train[picks[1]].imageRow];
    expect([...b.subarray(half.featureSize, 2 * half.featureSize)]).toEqual([...tiny.features.get(image)!]);
  });

  it('pooled runs keep float32, and images without features leave no rows behind', async () => {
    // Enough images that one missing stays under the share train refuses (src/features/coverage.ts).
    const tiny = writeTinyRun(tempDir(), { imagesPerClass: 60 });
    const missing = new Set(['img1.jpg']);
    const data = await loadTrainingData(tiny.runDir, () => ({ dim: 16, get: (n) => (missing.has(n) ? undefined : tiny.features.get(n)) }));
    expect(data.features.dtype).toBe('float32');
    expect(data.missingFeatures).toBe(3);
    expect(data.images).toHaveLength(tiny.features.size - 1);
    expect(data.features.rowCount).toBe(data.images.length);
    expect((data.features as MemoryFeatureStore).byteLength).toBe(data.images.length * 16 * 4);
    const rows = buildBatch(data.train, [0, data.train.length - 1], data.features, 16).features;
    const last = data.train.at(-1)!;
    expect([...rows.subarray(16)]).toEqual([...tiny.features.get(data.images[last.imageRow])!]);
  });
});
