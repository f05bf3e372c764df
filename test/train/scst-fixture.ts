// A tiny prepared run with a real feature cache (what the CLI reads), for the CLI training tests.
import path from 'node:path';
import { openCacheWriter } from '../../src/features/cache.js';
import { tempDir } from '../helpers.js';
import { encoderIdentity, writeTinyRun, type TinyRun } from './fixtures.js';

export async function tinyRunWithCache(opts: { seed?: number } = {}): Promise<TinyRun> {
  const tiny = writeTinyRun(tempDir(), { imagesPerClass: 10, ...opts });
  const writer = await openCacheWriter(path.join(tiny.runDir, 'features', 'test'), {
    identity: encoderIdentity(),
    dtype: 'float32',
    dim: 16,
  });
  const names = [...tiny.features.keys()];
  const rows = new Float32Array(names.length * 16);
  names.forEach((n, i) => rows.set(tiny.features.get(n)!, i * 16));
  await writer.append(names, rows);
  await writer.close();
  return tiny;
}
