// Splitting work into N shards for job arrays (Slurm `--array`, Kubernetes Indexed Jobs): which
// shard owns an item is a pure function of (item, shard count), so N processes never need to agree
// at run time, and a shard that died is rerun alone with the same result.
import { createHash } from 'node:crypto';
import { CapgenError } from '../errors.js';

/** Shard `index` of `count` (0-based, as SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX are). */
export interface ShardSpec {
  index: number;
  count: number;
}

/** Parses `--shard I/N` (0 <= I < N); anything else is a one-line usage error naming the flag. */
export function parseShardSpec(text: string, flag = '--shard'): ShardSpec {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const hint = `give ${flag} I/N with 0 <= I < N, e.g. ${flag} 0/4 (shard ids start at 0, like SLURM_ARRAY_TASK_ID)`;
  if (!match) throw new CapgenError('USAGE', `${flag} ${JSON.stringify(text)} is not of the form I/N`, { hint });
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (count < 1) throw new CapgenError('USAGE', `${flag} ${text}: the shard count must be at least 1`, { hint });
  if (index >= count)
    throw new CapgenError('USAGE', `${flag} ${text}: shard ${index} does not exist among ${count} (ids run 0..${count - 1})`, { hint });
  if (!Number.isSafeInteger(count)) throw new CapgenError('USAGE', `${flag} ${text}: the shard count is too large`, { hint });
  return { index, count };
}

/** A stable 32-bit bucket for a key: the first 4 bytes of its SHA-256 (the same on every machine and Node version). */
function bucketOf(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0);
}

/**
 * Whether shard `spec` owns the item named `key` (an image's name within its dataset). Assignment by
 * hash, not by position in a list: it does not change when the list is read in another order or grows,
 * and it spreads items evenly whatever their names look like.
 */
export function shardOwns(key: string, spec: ShardSpec): boolean {
  return spec.count === 1 || bucketOf(key) % spec.count === spec.index;
}

/**
 * Whether shard `spec` owns the input file at `position` in a sorted list of input files (webdataset
 * tars): webdataset's split_by_node rule, i, i + N, i + 2N, ... so each process reads only its own files.
 */
export function shardOwnsPosition(position: number, spec: ShardSpec): boolean {
  return position % spec.count === spec.index;
}

/** `3/8` as users write it back in messages and file names. */
export function formatShard(spec: ShardSpec): string {
  return `${spec.index}/${spec.count}`;
}
