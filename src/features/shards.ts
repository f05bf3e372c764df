// Sharded feature extraction (`prepare --shard I/N`): each shard process writes its own sub-cache
// (the same vectors.bin + index.jsonl format) under the cache folder, so shards never write the
// same file; a plain prepare later copies their rows into the cache in its own order and removes them.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CapgenError } from '../errors.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { formatShard, type ShardSpec } from '../util/shard.js';
import { openCacheReader, type CacheReader } from './cache.js';

/** Inside a cache folder: one sub-cache per shard, `<index>-of-<count>/`. */
export const SHARDS_DIR = 'shards';
/** Written by a shard when all its images are done (a marker for the merge's message). */
export const SHARD_DONE_FILE = 'done.json';
/** In the run folder while shards are under way: which encoder and shard count they are for. */
export const SHARD_PLAN_FILE = '.capgen-shards.json';

export function shardCacheDir(cacheDir: string, spec: ShardSpec): string {
  return path.join(cacheDir, SHARDS_DIR, `${spec.index}-of-${spec.count}`);
}

interface ShardPlan {
  cacheKey: string;
  architecture: string;
  count: number;
}

/**
 * Records (the first shard) or checks (every later one) what this run's shards compute, so that a
 * shard of another encoder or another shard count is refused instead of mixing into the run.
 * The plan is created whole by an exclusive link, so shards starting together agree on one.
 */
export async function checkShardPlan(runDir: string, plan: ShardPlan, spec: ShardSpec): Promise<void> {
  const file = path.join(runDir, SHARD_PLAN_FILE);
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, `${JSON.stringify(plan)}\n`);
  try {
    await fs.link(tmp, file);
    return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    await fs.rm(tmp, { force: true });
  }
  let existing: ShardPlan;
  try {
    existing = JSON.parse(await fs.readFile(file, 'utf8')) as ShardPlan;
  } catch {
    throw new CapgenError('BAD_INPUT', 'the record of this run folder’s shards is not valid JSON', {
      file,
      hint: 'delete it if no `capgen prepare --shard` is running on this run folder',
    });
  }
  if (existing.cacheKey !== plan.cacheKey || existing.count !== plan.count) {
    const what =
      existing.cacheKey !== plan.cacheKey
        ? `shards of encoder ${existing.architecture} (cache ${existing.cacheKey}) are under way in this run folder; this shard is of ${plan.architecture} (cache ${plan.cacheKey})`
        : `shards of ${existing.count} are under way in this run folder; this one is ${formatShard(spec)}`;
    throw new CapgenError('MISMATCH', what, {
      file,
      hint: 'finish them and merge (the same `capgen prepare` without --shard), or use another run folder',
    });
  }
}

/** After a merge: the plan of these shards is done (another encoder's plan is left alone). */
export async function clearShardPlan(runDir: string, cacheKey: string): Promise<void> {
  const file = path.join(runDir, SHARD_PLAN_FILE);
  try {
    const existing = JSON.parse(await fs.readFile(file, 'utf8')) as ShardPlan;
    if (existing.cacheKey !== cacheKey) return;
  } catch {
    if (!existsSync(file)) return;
  }
  await fs.rm(file, { force: true });
}

export interface ShardSource {
  name: string;
  done: boolean;
  reader: CacheReader;
}

/** The sub-caches of every shard that wrote into `cacheDir` (done or not), sorted by name. */
export async function openShardSources(cacheDir: string): Promise<ShardSource[]> {
  const root = path.join(cacheDir, SHARDS_DIR);
  if (!existsSync(root)) return [];
  const out: ShardSource[] = [];
  for (const name of (await fs.readdir(root)).sort()) {
    const dir = path.join(root, name);
    if (!(await fs.stat(dir)).isDirectory()) continue;
    const reader = await openCacheReader(dir);
    if (reader) out.push({ name, done: existsSync(path.join(dir, SHARD_DONE_FILE)), reader });
  }
  return out;
}

export async function markShardDone(
  subDir: string,
  counts: { images: number; computed: number; reused: number; bad: number },
): Promise<void> {
  await writeJsonAtomic(path.join(subDir, SHARD_DONE_FILE), { ...counts, finishedAt: new Date().toISOString() });
}

/** Removes the shard sub-caches once their rows are durable in the cache itself. */
export async function removeShardCaches(cacheDir: string): Promise<void> {
  await fs.rm(path.join(cacheDir, SHARDS_DIR), { recursive: true, force: true });
}
