// What a command may replace. `capgen train` into a run folder that already holds a training: refused
// unless the user says --resume (continue it) or --overwrite (start again). An overwrite removes nothing
// until the new training has proved it can run: train validates everything first, then moves the old
// `train/` aside, and deletes it only once the new one has saved its first checkpoint; a failure before
// that puts it back. A process killed in between leaves the old training aside, and the next `train`
// (which holds the run's lock, as every writer does) settles it: back in place when the new one saved
// nothing, deleted when it did. A folder that `export` or `average` replaces whole (`--out`): never one
// holding what the command reads, and only an empty one or an earlier output of the command unless --overwrite.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { CapgenError } from '../errors.js';
import { info, warn } from '../log.js';
import { runPath } from './layout.js';

/** What marks a finished or started training in `train/`. */
const TRAINING_OUTPUTS = ['best', 'last', 'epochs', 'history.json'];

/**
 * Where an overwrite keeps the earlier training until the new one has a checkpoint: beside `train/`,
 * hidden, and not named like the `.tmp` files that a failed write leaves (those may be swept away;
 * this must not be while it is the only copy of a training).
 */
export const REPLACED_TRAINING_DIR = '.train-before-overwrite';

const asideDir = (runDir: string) => path.join(runDir, REPLACED_TRAINING_DIR);
const hasCheckpoint = (trainDir: string) =>
  existsSync(path.join(trainDir, 'best', 'checkpoint.json')) || existsSync(path.join(trainDir, 'last', 'checkpoint.json'));

/**
 * Settles an overwrite that a killed process left unfinished: the earlier training goes back into
 * `train/` when the new one saved no checkpoint, and is deleted when it did. Call with the run's lock held.
 */
export async function recoverInterruptedOverwrite(runDir: string): Promise<void> {
  const aside = asideDir(runDir);
  if (!existsSync(aside)) return;
  const trainDir = runPath(runDir, 'trainDir');
  if (hasCheckpoint(trainDir)) {
    info(`train: removing the earlier training that an interrupted --overwrite replaced (${aside})`);
    await fs.rm(aside, { recursive: true, force: true });
    return;
  }
  warn(
    `train: an earlier --overwrite stopped before the new training saved a checkpoint: putting the previous training back in ${trainDir}`,
  );
  await fs.rm(trainDir, { recursive: true, force: true });
  await fs.rename(aside, trainDir);
}

/**
 * Checks `train/` before training: returns true when an earlier training is there and --overwrite
 * asked to replace it (the caller then calls replaceTraining once everything is validated). Touches
 * nothing but an interrupted overwrite's leftovers (recoverInterruptedOverwrite).
 */
export async function guardTrainDir(runDir: string, opts: { resume: boolean; overwrite: boolean }): Promise<boolean> {
  await recoverInterruptedOverwrite(runDir);
  const trainDir = runPath(runDir, 'trainDir');
  const found = TRAINING_OUTPUTS.filter((name) => existsSync(runPath(runDir, 'trainDir', name)));
  if (opts.resume || found.length === 0) return false;
  if (!opts.overwrite) {
    throw new CapgenError('USAGE', `this run folder already holds a training (${found.join(', ')})`, {
      file: trainDir,
      hint: found.includes('last')
        ? 'add --resume to continue it, --overwrite to replace it, or train into another run folder'
        : 'it has no train/last to resume from: --overwrite to start again, or train into another run folder',
    });
  }
  return true;
}

/** The earlier training, moved aside: `commit` deletes it (the new one has a checkpoint), `restore` puts it back. */
export interface ReplacedTraining {
  commit(): Promise<void>;
  restore(): Promise<void>;
}

/** Moves `train/` aside for an overwrite; see ReplacedTraining. */
export async function replaceTraining(runDir: string): Promise<ReplacedTraining> {
  const trainDir = runPath(runDir, 'trainDir');
  const aside = asideDir(runDir);
  info(`train: --overwrite: removing the earlier training in ${trainDir} once this one has saved its first checkpoint`);
  await fs.rename(trainDir, aside);
  let settled = false;
  return {
    async commit() {
      if (settled) return;
      settled = true;
      await fs.rm(aside, { recursive: true, force: true });
    },
    async restore() {
      if (settled) return;
      settled = true;
      await fs.rm(trainDir, { recursive: true, force: true });
      await fs.rename(aside, trainDir);
      info(`train: the earlier training is back in ${trainDir}`);
    },
  };
}

/**
 * `train --objective scst` on the run's own cross-entropy training keeps that training here, beside
 * `train/` (which then holds the self-critical one): nothing is replaced.
 */
export const KEPT_XE_TRAINING_DIR = 'train-xe';

/**
 * Moves `train/` to `train-xe/` before self-critical training writes its own `train/`: `restore` puts
 * it back when the new training saved nothing (a failure), `commit` keeps the move. Call with the run's lock held.
 */
export async function keepCrossEntropyTraining(runDir: string): Promise<ReplacedTraining> {
  const trainDir = runPath(runDir, 'trainDir');
  const kept = path.join(runDir, KEPT_XE_TRAINING_DIR);
  info(`train: the cross-entropy training moves to ${kept}; the self-critical one is written to ${trainDir}`);
  await fs.rename(trainDir, kept);
  let settled = false;
  return {
    async commit() {
      settled = true;
    },
    async restore() {
      if (settled || hasCheckpoint(trainDir)) return;
      settled = true;
      await fs.rm(trainDir, { recursive: true, force: true });
      await fs.rename(kept, trainDir);
      info(`train: the cross-entropy training is back in ${trainDir}`);
    },
  };
}

/** Something a command reads, which the folder it replaces must never be or contain. */
export interface ReadInput {
  path: string;
  /** How messages call it: 'the checkpoint being exported'. */
  what: string;
}

/** A folder that a command (`export`, `average`) is about to replace whole with what it writes. */
export interface OutputFolder {
  /** As the user gave it: messages name it so. */
  dir: string;
  /** The flag that named it, for messages ('--out'). */
  flag: string;
  /** What the command reads: checkpoints, an encoder's model.json. */
  inputs: ReadInput[];
  /** The user said --overwrite: a non-empty folder that is not an earlier output may be replaced. */
  overwrite: boolean;
  /** An earlier output of the same command, which is replaced without --overwrite; absent: none is. */
  earlierOutput?: { is: (dir: string) => boolean; name: string };
}

/** `p` with every symlink in its existing part resolved (the part that does not exist yet is kept as written). */
async function realPathOf(p: string): Promise<string> {
  const rest: string[] = [];
  let head = path.resolve(p);
  for (;;) {
    try {
      return path.join(await fs.realpath(head), ...rest);
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return path.resolve(p);
      rest.unshift(path.basename(head));
      head = parent;
    }
  }
}

function isWithin(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * Refuses (USAGE, before anything is written) to replace a folder whose loss the user did not ask
 * for: one that is or contains an input or the current folder (always, --overwrite or not: the
 * command would delete what it reads, or the folder the shell stands in), and a file or a non-empty
 * folder that is not an earlier output of the same command (unless --overwrite). The replacing itself
 * is replaceDirAtomic's: written beside, swapped in whole.
 */
export async function guardOutputFolder(out: OutputFolder): Promise<void> {
  const abs = path.resolve(out.dir);
  // A rename acts on the last name itself (a symlink is replaced, not followed): resolve its parent only.
  const target = path.join(await realPathOf(path.dirname(abs)), path.basename(abs));
  const kept: ReadInput[] = [...out.inputs, { path: process.cwd(), what: 'the current folder' }];
  for (const input of kept) {
    const real = await realPathOf(input.path);
    if (!isWithin(real, target)) continue;
    const holds = path.relative(target, real) === '' ? `is ${input.what}` : `contains ${input.what} (${input.path})`;
    throw new CapgenError('USAGE', `${out.flag} ${out.dir} ${holds}: replacing it would delete it`, {
      hint: `choose an ${out.flag} folder outside it`,
    });
  }
  let stat: import('node:fs').Stats;
  try {
    stat = await fs.lstat(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR')
      throw new CapgenError('USAGE', `${out.flag} ${out.dir}: a folder on this path is a file`, { hint: `choose another ${out.flag}` });
    throw e;
  }
  if (out.overwrite) return;
  const askFirst = (what: string) =>
    new CapgenError('USAGE', `${out.flag} ${out.dir} ${what}`, {
      hint: `add --overwrite to replace all of it, or choose a new or empty ${out.flag} folder`,
    });
  if (!stat.isDirectory()) throw askFirst(`is ${stat.isSymbolicLink() ? 'a symbolic link' : 'a file'}, not a folder`);
  if ((await fs.readdir(abs)).length === 0) return;
  if (out.earlierOutput?.is(abs)) return;
  throw askFirst(`is not empty${out.earlierOutput ? ` and not ${out.earlierOutput.name}` : ''}`);
}
