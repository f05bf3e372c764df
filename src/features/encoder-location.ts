// Where a recorded tfjs-layers encoder's model.json is now. prepare records its absolute path and,
// when it lies inside the run folder, its path relative to that folder; both are only hints, the
// weights hash is the identity. caption and serve look in order at: --encoder PATH (must match the
// hash), the path relative to the run folder (the run was moved or copied), the absolute path, and
// any model.json inside the run folder with the same weights hash.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { CapgenError } from '../errors.js';
import { debug } from '../log.js';
import type { EncoderIdentity } from '../run/formats.js';
import { RUN_FILES } from '../run/layout.js';
import { hashLayersWeights } from './encoders/layers-encoder.js';

/** Folder levels searched below the run folder for a model.json with the recorded hash. */
const SEARCH_DEPTH = 4; // run/models/<name>/model.json with room to spare, without walking a whole disk

/** A recorded encoder as people may see it: its model's folder name, never its path (`…/mobilenet_v1_1.0_224_features/model.json` -> `mobilenet_v1_1.0_224_features`; `…/encoder.json` -> `encoder`). */
export function encoderSourceName(source: string): string {
  const base = path.basename(source);
  return base === 'model.json' ? path.basename(path.dirname(source)) : base.replace(/\.json$/i, '');
}

/** The path of `source` relative to `runDir` when it lies inside it (recorded by prepare). */
export function pathInRun(source: string | undefined, runDir: string): string | undefined {
  if (!source) return undefined;
  const rel = path.relative(path.resolve(runDir), path.resolve(source));
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : undefined;
}

/** The run folder a checkpoint folder belongs to (<run>/train/best), if it looks like one. */
export function runDirOfCheckpoint(checkpointDir: string): string | undefined {
  const runDir = path.resolve(checkpointDir, '..', '..');
  return existsSync(path.join(runDir, RUN_FILES.prepareJson)) ? runDir : undefined;
}

async function findModelJsons(dir: string, depth: number, out: string[]): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isFile() && e.name.endsWith('.json') && e.name !== RUN_FILES.prepareJson && e.name !== 'checkpoint.json') out.push(full);
    // The feature cache and the dataset images can be large: no model lives there.
    else if (e.isDirectory() && depth > 0 && e.name !== RUN_FILES.featuresDir && !e.name.startsWith('.'))
      await findModelJsons(full, depth - 1, out);
  }
}

async function hashOrUndefined(modelJson: string): Promise<string | undefined> {
  try {
    return await hashLayersWeights(modelJson);
  } catch {
    return undefined; // not a layers model, or shards missing
  }
}

/**
 * For a tfjs-layers identity: a model.json whose weights hash is the recorded one. For other
 * architectures: `explicit` as given (resnet50's .h5 is checked by its loader). Throws NOT_FOUND
 * with the way out (--encoder PATH) when nothing matches, MISMATCH when `explicit` has other weights.
 */
export async function locateEncoder(
  identity: EncoderIdentity,
  opts: { explicit?: string; checkpointDir: string },
): Promise<string | undefined> {
  if (identity.architecture !== 'tfjs-layers') return opts.explicit;
  const expected = identity.weightsHash;
  if (opts.explicit) {
    const hash = await hashLayersWeights(opts.explicit);
    if (hash !== expected) {
      throw new CapgenError(
        'MISMATCH',
        `these are not the encoder weights the model was trained with (sha256 ${hash.slice(0, 12)}... vs ${expected.slice(0, 12)}...)`,
        {
          file: opts.explicit,
          hint: 'give the model.json that `capgen prepare` used for this run',
        },
      );
    }
    return opts.explicit;
  }
  const runDir = runDirOfCheckpoint(opts.checkpointDir);
  const candidates: string[] = [];
  if (runDir && identity.sourceInRun) candidates.push(path.join(runDir, identity.sourceInRun));
  if (identity.source) candidates.push(identity.source);
  for (const c of candidates) {
    if (existsSync(c) && (await hashOrUndefined(c)) === expected) return c;
  }
  if (runDir) {
    const found: string[] = [];
    await findModelJsons(runDir, SEARCH_DEPTH, found);
    for (const c of found) {
      if (candidates.includes(c)) continue;
      if ((await hashOrUndefined(c)) === expected) {
        debug(`encoder: found by its weights hash at ${c}`);
        return c;
      }
    }
  }
  throw new CapgenError(
    'NOT_FOUND',
    `the encoder's model.json is not where \`capgen prepare\` found it (${identity.source ?? 'no path recorded'})${runDir ? ', nor in the run folder' : ''}`,
    {
      hint: `pass --encoder PATH/model.json (its weights must have sha256 ${expected.slice(0, 12)}...)`,
    },
  );
}
