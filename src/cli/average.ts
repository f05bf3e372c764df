// `capgen average CHECKPOINT...`: flags -> AverageConfig -> runAverage; the written folder on stdout.
import { Command } from 'commander';
import { CapgenError } from '../errors.js';
import type { AverageConfig } from '../average/run.js';
import { result } from '../log.js';
import { defaultAverageDir, DEFAULT_RUN_DIR } from '../run/layout.js';

export function averageCommand(): Command {
  return new Command('average')
    .description(
      "average the weights of checkpoints of one model (e.g. a run's best and last, or its last epochs) into a new checkpoint; eval, caption, serve and export read it like any other (--checkpoint DIR)",
    )
    .argument('[checkpoints...]', 'two or more checkpoint folders (default: the kept epochs of --run, <run>/train/epochs/*)')
    .option('--run <dir>', 'run folder: its kept epochs are averaged when no checkpoint is named', DEFAULT_RUN_DIR)
    .option(
      '--out <dir>',
      'folder for the averaged checkpoint (default with --run or no checkpoints named: <run>/train/average): new or empty; never one holding a checkpoint being averaged',
    )
    .option('--overwrite', 'replace --out when it is not empty (without it, average refuses)', false)
    .action(async (checkpoints: string[], opts, cmd: Command) => {
      // Named checkpoints may come from any run: their average goes to the default run only when asked.
      if (opts.out === undefined && checkpoints.length > 0 && cmd.getOptionValueSource('run') !== 'cli')
        throw new CapgenError('USAGE', 'average: say where the averaged checkpoint goes', {
          hint: '--out DIR, or --run RUN for RUN/train/average',
        });
      const { keptEpochCheckpoints, runAverage } = await import('../average/run.js'); // loaded on use: --help stays fast
      const config: AverageConfig = {
        checkpoints: checkpoints.length ? checkpoints : await keptEpochCheckpoints(opts.run),
        outDir: opts.out ?? defaultAverageDir(opts.run),
        overwrite: opts.overwrite,
      };
      const r = await runAverage(config);
      result(
        `${r.outDir}: the mean of ${r.sources.length} checkpoints (${r.weights} weights): ${r.sources.map((s) => `${s.dir} (epoch ${s.epoch})`).join(', ')}`,
      );
    });
}
