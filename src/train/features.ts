// The default feature opener for training: the prepare stage's feature cache (src/features/cache.ts),
// checked against the encoder identity recorded in prepare.json.
import { CapgenError } from '../errors.js';
import type { EncoderIdentity } from '../run/formats.js';
import { assertSameEncoder } from '../model/checkpoint.js';
import type { FeatureSource } from './data.js';

interface FeatureCacheLike extends FeatureSource {
  identity?: EncoderIdentity;
}

export async function openCachedFeatures(dir: string, encoder: EncoderIdentity): Promise<FeatureSource> {
  // Resolved at run time so that training builds before the cache module lands in the tree.
  const specifier = '../features/cache.js';
  let mod: { openFeatureCache(dir: string): FeatureCacheLike | Promise<FeatureCacheLike> };
  try {
    mod = (await import(specifier)) as typeof mod;
  } catch (e) {
    throw new CapgenError('NOT_FOUND', `cannot load the feature cache reader: ${(e as Error).message}`, { file: dir });
  }
  const cache = await mod.openFeatureCache(dir);
  if (cache.identity) assertSameEncoder(encoder, cache.identity, dir);
  return cache;
}
