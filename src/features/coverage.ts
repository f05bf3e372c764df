// How many images of a split have no usable cached feature. prepare leaves unreadable images out of
// captions.jsonl, so any image missing here means the cache was damaged, cut short or mixed up by
// another run: a few are tolerated (with the count printed), more stop train and eval (exit 2),
// since the results would describe a different, smaller dataset.
import { CapgenError } from '../errors.js';
import { warn } from '../log.js';

/** Above this share of a split's images without features, train and eval refuse. */
export const MAX_MISSING_FEATURE_SHARE = 0.01; // as prepare's malformed-line limit: a few strays, not a damaged cache

export interface SplitCoverage {
  split: string;
  images: number;
  missing: number;
}

/** Prints the count for each split with missing features, and throws when a split misses too many. */
export function checkFeatureCoverage(coverage: SplitCoverage[], opts: { cacheDir: string; command: string }): void {
  for (const c of coverage) {
    if (c.missing === 0) continue;
    const share = c.missing / Math.max(1, c.images);
    const text = `${c.missing} of ${c.images} ${c.split} images have no usable cached feature`;
    if (share > MAX_MISSING_FEATURE_SHARE) {
      throw new CapgenError(
        'BAD_INPUT',
        `${text} (more than ${MAX_MISSING_FEATURE_SHARE * 100}%): the feature cache is damaged or incomplete`,
        {
          file: opts.cacheDir,
          hint: 'rerun the same `capgen prepare`: it checks the cache, and recomputes what is damaged or missing',
        },
      );
    }
    warn(`${opts.command}: ${text}: left out`);
  }
}
