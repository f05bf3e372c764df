// The run folder: the only way stages talk to each other. prepare writes, train reads what prepare
// wrote, eval/caption/serve read what train wrote. Every name here is relative to the run folder.
import path from 'node:path';

/** Default run folder (`--out` / `--run`): git-ignored. */
export const DEFAULT_RUN_DIR = 'artifacts';
/** Where `capgen demo` writes: inside the git-ignored artifacts/, beside (not over) a real run. */
export const DEFAULT_DEMO_RUN_DIR = 'artifacts/demo';

export const RUN_FILES = {
  /** prepare: resolved config, statistics, cleaning rules, and which feature cache goes with it. */
  prepareJson: 'prepare.json',
  /** prepare: one PreparedCaption per line. */
  captions: 'captions.jsonl',
  /** prepare: the Vocabulary. */
  vocab: 'vocab.json',
  /** prepare: images named by captions but absent on disk, one file name a line. */
  missingImages: 'missing-images.txt',
  /** prepare: images that exist but could not be decoded, `name<TAB>reason` a line. */
  badImages: 'bad-images.txt',
  /** prepare: feature caches, one sub-folder per encoder identity key. */
  featuresDir: 'features',
  /** train: checkpoints (`best/`, `last/`), history.json, history.png. */
  trainDir: 'train',
  /** eval: metrics.json, predictions.jsonl, report.html. */
  evalDir: 'eval',
} as const;

export function runPath(runDir: string, name: keyof typeof RUN_FILES, ...rest: string[]): string {
  return path.join(runDir, RUN_FILES[name], ...rest);
}

/** `train --keep-epochs N` keeps the last N epochs' checkpoints in <run>/train/epochs, `epoch-NNN/` each. */
export const KEPT_EPOCHS_SUBDIR = 'epochs';
/** The kept epochs' folder: what `average --run` averages when no checkpoint is named. */
export function keptEpochsDir(runDir: string): string {
  return runPath(runDir, 'trainDir', KEPT_EPOCHS_SUBDIR);
}

/** Where `average --run` writes unless --out says otherwise. */
export function defaultAverageDir(runDir: string): string {
  return runPath(runDir, 'trainDir', 'average');
}

/** The checkpoint eval, caption, serve and export read unless told otherwise: <run>/train/best. */
export function defaultCheckpointDir(runDir: string): string {
  return runPath(runDir, 'trainDir', 'best');
}
