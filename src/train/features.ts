// The default feature opener for training: the prepare stage's feature cache (src/features/cache.ts),
// checked against the encoder identity recorded in prepare.json.
import { existsSync } from 'node:fs';
import { CapgenError } from '../errors.js';
import { warn } from '../log.js';
import { openFeatureRowFile } from '../features/cache.js';
import { assertSameEncoder } from '../model/checkpoint.js';
import type { EncoderIdentity } from '../run/formats.js';
import type { FeatureSource } from './data.js';

export async function openCachedFeatures(dir: string, encoder: EncoderIdentity): Promise<FeatureSource> {
  if (!existsSync(dir))
    throw new CapgenError('NOT_FOUND', 'the feature cache named by prepare.json is missing', {
      file: dir,
      hint: 'run `capgen prepare` again to compute the features',
    });
  const cache = await openFeatureRowFile(dir);
  if (cache.damaged) warn(`train: ${cache.damaged} cached features failed their hash check (see the count per split below)`);
  try {
    assertSameEncoder(encoder, cache.identity, dir);
  } catch (e) {
    cache.close();
    throw e;
  }
  // Its rows by position too: what `--feature-store disk` reads batches with.
  return { dim: cache.dim, get: (image) => cache.get(image), rowFile: cache, close: () => cache.close() };
}
