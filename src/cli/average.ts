// `capgen average CHECKPOINT...`: flags -> AverageConfig -> runAverage; the written folder on stdout.
import { Command } from 'commander';
import type { AverageConfig } from '../average/run.js';
import { result } from '../log.js';

export function averageCommand(): Command {
  return new Command('average')
    .description(
      "average the weights of checkpoints of one model (e.g. a run's best and last, or its last epochs) into a new checkpoint; eval, caption, serve and export read it like any other (--checkpoint DIR)",
    )
    .argument('<checkpoints...>', 'two or more checkpoint folders (train/best, train/last, ...)')
    .requiredOption('--out <dir>', 'folder for the averaged checkpoint (e.g. <run>/train/average)')
    .option('--overwrite', 'replace --out when it exists (without it, average refuses)', false)
    .action(async (checkpoints: string[], opts) => {
      const config: AverageConfig = { checkpoints, outDir: opts.out, overwrite: opts.overwrite };
      const { runAverage } = await import('../average/run.js'); // loaded on use: --help stays fast
      const r = await runAverage(config);
      result(
        `${r.outDir}: the mean of ${r.sources.length} checkpoints (${r.weights} weights): ${r.sources.map((s) => `${s.dir} (epoch ${s.epoch})`).join(', ')}`,
      );
    });
}
