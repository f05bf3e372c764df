// `capgen train` into a run folder that already holds a training: refused unless the user says
// --resume (continue it) or --overwrite (start again, the old best/, last/ and history removed first,
// so that nothing of the old run is mistaken for the new one's).
import { existsSync, promises as fs } from 'node:fs';
import { CapgenError } from '../errors.js';
import { info } from '../log.js';
import { runPath } from './layout.js';

/** What marks a finished or started training in `train/`. */
const TRAINING_OUTPUTS = ['best', 'last', 'epochs', 'history.json'];

export async function guardTrainDir(runDir: string, opts: { resume: boolean; overwrite: boolean }): Promise<void> {
  const trainDir = runPath(runDir, 'trainDir');
  const found = TRAINING_OUTPUTS.filter((name) => existsSync(runPath(runDir, 'trainDir', name)));
  if (opts.resume || found.length === 0) return;
  if (!opts.overwrite) {
    throw new CapgenError('USAGE', `this run folder already holds a training (${found.join(', ')})`, {
      file: trainDir,
      hint: found.includes('last')
        ? 'add --resume to continue it, --overwrite to replace it, or train into another run folder'
        : 'it has no train/last to resume from: --overwrite to start again, or train into another run folder',
    });
  }
  info(`train: --overwrite: removing the earlier training in ${trainDir}`);
  await fs.rm(trainDir, { recursive: true, force: true });
}
