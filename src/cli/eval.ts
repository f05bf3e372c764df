// `capgen eval`: flags -> EvalConfig -> runEval; the metrics table (or --json) on stdout.
import { Command, Option } from 'commander';
import { DEFAULT_EVAL_CONFIG, type EvalConfig } from '../evaluate/config.js';
import { SMOOTHING_METHODS } from '../evaluate/metrics/index.js';
import { result } from '../log.js';
import { withRunLock } from '../run/lock.js';
import { backendOption, decodingOptions, intArg } from './options.js';

export function evalCommand(): Command {
  const [beamSize, lengthPenalty, blockNgrams] = decodingOptions();
  const d = DEFAULT_EVAL_CONFIG;
  return new Command('eval')
    .description(
      'caption every image of a split and score the captions (BLEU-1..4 as NLTK, CIDEr-D, ROUGE-L, METEOR); writes metrics.json, predictions.jsonl, report.html',
    )
    .option('--run <dir>', 'run folder (prepare + train outputs)', d.runDir)
    .option('--checkpoint <dir>', 'checkpoint folder (default: <run>/train/best)')
    .addOption(
      new Option('--split <name>', 'split to caption and score (with --predictions: the predicted images, whatever their split)')
        .choices(['test', 'dev'])
        .default(d.split),
    )
    .addOption(beamSize)
    .addOption(lengthPenalty)
    .addOption(blockNgrams)
    .option('--batch-size <n>', 'images per model call (decoding)', intArg(1), d.batchSize)
    .addOption(
      new Option('--smoothing <method>', 'NLTK BLEU smoothing function (method0 = none, as corpus_bleu by default)')
        .choices([...SMOOTHING_METHODS])
        .default(d.smoothing),
    )
    .option('--limit <n>', 'score only the first N images of the split', intArg(1))
    .option('--predictions <file>', 'score this JSON Lines file of {"image", "caption"} instead of decoding (no model needed)')
    .option('--out <dir>', 'output folder (default: <run>/eval)')
    .option('--no-thumbnails', 'leave image thumbnails out of report.html')
    .option('--no-attention-maps', "leave the words' attention maps out of report.html (attending decoders)")
    .option('--json', 'print metrics.json as JSON on stdout instead of a table')
    .addOption(backendOption())
    .action(async (opts) => {
      const config: EvalConfig = {
        runDir: opts.run,
        checkpointDir: opts.checkpoint,
        split: opts.split,
        beamSize: opts.beamSize,
        lengthPenalty: opts.lengthPenalty,
        blockNgrams: opts.blockNgrams,
        batchSize: opts.batchSize,
        smoothing: opts.smoothing,
        limit: opts.limit,
        predictionsFile: opts.predictions,
        outDir: opts.out,
        thumbnails: opts.thumbnails,
        attentionMaps: opts.attentionMaps,
        backend: opts.backend,
      };
      const [{ runEval }, { formatMetricsTable }] = await Promise.all([import('../evaluate/run.js'), import('../evaluate/record.js')]); // loaded on use: --help stays fast
      // Writing into the run folder takes its lock; --out elsewhere only reads the run.
      const r = config.outDir === undefined ? await withRunLock(config.runDir, 'eval', () => runEval(config)) : await runEval(config);
      // On a terminal, stdout and stderr are one screen: the table leaves out the warnings the log showed.
      const table = formatMetricsTable(r.record, { warnings: !(process.stdout.isTTY && process.stderr.isTTY) });
      result(opts.json ? JSON.stringify(r.record, null, 2) : `${table}\nreport: ${r.files.report}`);
    });
}
