// `capgen export`: flags -> ExportConfig -> runExport; the written files and their sizes on stdout.
import { Command, Option } from 'commander';
import type { ExportConfig } from '../export/run.js';
import { EXPORT_FORMATS } from '../export/types.js';
import { result, warn } from '../log.js';
import { defaultCheckpointDir, DEFAULT_RUN_DIR } from '../run/layout.js';
import { decodingOptions } from './options.js';

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MB`;

export function exportCommand(): Command {
  const [beamSize, lengthPenalty, blockNgrams] = decodingOptions({
    beamSizeHelp: 'default decoding recorded in the manifest (1 = greedy, as `capgen caption`)',
  });
  return new Command('export')
    .description(
      'write a trained model as files that run without capgen: TensorFlow.js models, or a static web page that captions in the browser',
    )
    .addOption(
      new Option(
        '--format <format>',
        'tfjs: encoder + decoder graphs (TensorFlow.js) + capgen-model.json; onnx: the same as ONNX files (encoder takes raw pixels); web: a static site around the tfjs files',
      )
        .choices([...EXPORT_FORMATS])
        .makeOptionMandatory(),
    )
    .requiredOption(
      '--out <dir>',
      'output folder: new, empty or an earlier export (replaced whole once the new one is written); never one holding the checkpoint or encoder',
    )
    .option('--overwrite', 'replace --out even when it holds files that are not a capgen export (without it, export refuses)', false)
    .option('--run <dir>', 'run folder whose best checkpoint is exported', DEFAULT_RUN_DIR)
    .option('--checkpoint <dir>', 'checkpoint folder (default: <run>/train/best)')
    .addOption(beamSize)
    .addOption(lengthPenalty)
    .addOption(blockNgrams)
    .action(async (opts) => {
      const config: ExportConfig = {
        checkpointDir: opts.checkpoint ?? defaultCheckpointDir(opts.run),
        format: opts.format,
        outDir: opts.out,
        overwrite: opts.overwrite,
        beamSize: opts.beamSize,
        lengthPenalty: opts.lengthPenalty,
        blockNgrams: opts.blockNgrams,
      };
      const { runExport } = await import('../export/run.js'); // loaded on use: --help stays fast
      const r = await runExport(config);
      for (const f of [...r.files].sort((a, b) => b.bytes - a.bytes)) result(`${mb(f.bytes).padStart(10)}  ${f.path}`);
      result(`${mb(r.totalBytes).padStart(10)}  total in ${r.outDir}`);
      if (r.budgetBytes !== undefined) {
        const line = `size budget: ${mb(r.totalBytes)} of ${mb(r.budgetBytes)} (${r.totalBytes <= r.budgetBytes ? 'within' : 'OVER'}; a visitor downloads all of it once)`;
        if (r.totalBytes <= r.budgetBytes) result(line);
        else warn(line);
      }
    });
}
