// `capgen demo`: flags -> DemoConfig -> runDemo (generate, prepare, train, eval, caption), then
// the closing report on stdout (or --json).
import { Command } from 'commander';
import { DEFAULT_DEMO_CONFIG, runDemo, type DemoConfig } from '../demo/run.js';
import { formatDemoReport } from '../demo/report.js';
import { result } from '../log.js';
import { backendOption, intArg, resolveRunDir, runOption } from './options.js';

export function demoCommand(): Command {
  const d = DEFAULT_DEMO_CONFIG;
  const command = new Command('demo').description(
    'the whole pipeline offline on a generated shapes dataset: prepare, train, eval, caption (about a minute on 2 cores)',
  );
  for (const o of runOption('run folder for everything the demo writes', d.outDir, { outAlias: true })) command.addOption(o);
  return command
    .option('--count <n>', 'synthetic scenes to generate (80/10/10 train/dev/test)', intArg(10, 100_000), d.count)
    .option('--seed <n>', 'seed of the scenes, the encoder weights and training', intArg(0), d.seed)
    .option('--epochs <n>', 'training epochs', intArg(1), d.epochs)
    .option('--show <n>', 'held-out scenes to caption and show', intArg(1, 100), d.showImages)
    .option('--json', 'print the demo record as JSON on stdout')
    .addOption(backendOption())
    .action(async (opts, cmd: Command) => {
      const config: DemoConfig = {
        outDir: resolveRunDir(opts, cmd),
        count: opts.count,
        seed: opts.seed,
        epochs: opts.epochs,
        backend: opts.backend,
        showImages: opts.show,
      };
      const r = await runDemo(config);
      result(opts.json ? JSON.stringify(r, null, 2) : formatDemoReport(r));
    });
}
