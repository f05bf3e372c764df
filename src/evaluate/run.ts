// `capgen eval`: caption every image of a split with a checkpoint (or take a predictions file),
// score against the image's references, and write metrics.json, predictions.jsonl and report.html.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileSetAtomic } from '../io/atomic.js';
import { formatSeconds, info, warn } from '../log.js';
import type { PrepareRecord } from '../run/formats.js';
import { runPath } from '../run/layout.js';
import { throwIfStopRequested } from '../util/signals.js';
import type { EvalConfig } from './config.js';
import { outputDiagnostics } from './diagnostics.js';
import { cocoBleu } from './metrics/coco-bleu.js';
import { scoreCaptions } from './metrics/index.js';
import { COCO_BLEU_CONVENTION, metricValues, protocolLine, type EvalRecord } from './record.js';
import { renderReport, type ReportRow } from './report-html.js';
import { readPrepareRecord, readPreparedCaptions } from './run-files.js';
import { fromModel, fromPredictions } from './captioned.js';
import { thumbnails } from './thumbnails.js';

export const EVAL_FILES = { metrics: 'metrics.json', predictions: 'predictions.jsonl', report: 'report.html' } as const;

export interface EvalResult {
  record: EvalRecord;
  outDir: string;
  files: { metrics: string; predictions: string; report: string };
}

export async function runEval(config: EvalConfig): Promise<EvalResult> {
  const started = performance.now();
  const prepare = await readPrepareRecord(runPath(config.runDir, 'prepareJson'));
  const captionsFile = runPath(config.runDir, 'captions');
  const captions = await readPreparedCaptions(captionsFile);
  const captioned = config.predictionsFile
    ? await fromPredictions(config, config.predictionsFile, prepare, captions)
    : await fromModel(config, prepare, captions, captionsFile);

  const scoringStarted = performance.now();
  const scores = scoreCaptions(
    captioned.items.map((i) => i.references),
    captioned.hypotheses,
    { smoothing: config.smoothing },
  );
  const references = captioned.items.map((i) => i.references);
  const coco = cocoBleu(references, captioned.hypotheses);
  const scoringSeconds = (performance.now() - scoringStarted) / 1000;
  const splits = [...new Set(captioned.items.map((i) => i.split))].sort();
  const maxLength = captioned.source.kind === 'model' ? captioned.source.decoding.maxLength : undefined;
  const head = {
    split: config.predictionsFile ? splits.join('+') : config.split,
    images: captioned.items.length,
    references: captioned.items.reduce((n, i) => n + i.references.length, 0),
    bleu: {
      ...scores.bleuDetails,
      smoothing: scores.smoothing,
      sentenceSmoothing: scores.sentenceSmoothing,
      weights: 'cumulative uniform: (1), (1/2,1/2), (1/3,1/3,1/3), (1/4,1/4,1/4,1/4)',
    },
    cleaning: captioned.cleaning,
  };
  const record: EvalRecord = {
    createdAt: new Date().toISOString(),
    ...head,
    metrics: metricValues(scores),
    cocoBleu: {
      bleu1: coco.bleu[0]!,
      bleu2: coco.bleu[1]!,
      bleu3: coco.bleu[2]!,
      bleu4: coco.bleu[3]!,
      hypothesisLength: coco.hypothesisLength,
      referenceLength: coco.referenceLength,
      convention: COCO_BLEU_CONVENTION,
    },
    diagnostics: outputDiagnostics(captioned.hypotheses, references, maxLength),
    protocol: protocolLine(head),
    source: captioned.source,
    skipped: captioned.skipped,
    elapsedSeconds: { decoding: captioned.decodingSeconds, scoring: scoringSeconds, total: 0 },
    backend: captioned.backend,
  };

  for (const w of record.diagnostics.warnings) warn(`eval: ${w}`);
  const outDir = config.outDir ?? runPath(config.runDir, 'evalDir');
  const files = {
    metrics: path.join(outDir, EVAL_FILES.metrics),
    predictions: path.join(outDir, EVAL_FILES.predictions),
    report: path.join(outDir, EVAL_FILES.report),
  };
  const rows = captioned.items.map((item, i) => ({
    image: item.image,
    caption: captioned.hypotheses[i].join(' '),
    references: item.references.map((r) => r.join(' ')),
    bleu4: scores.perImage[i].bleu4,
    ciderD: scores.perImage[i].ciderD,
    rougeL: scores.perImage[i].rougeL,
    meteor: scores.perImage[i].meteor,
    ...(captioned.decoded ? { logProb: captioned.decoded[i].logProb } : {}),
  }));
  const grid = captioned.attentionGrid;
  const encoder = captioned.source.kind === 'model' ? captioned.source.encoder : undefined;
  const crop = encoder?.resize === 'crop' ? { crop: encoder.inputSize } : {};
  const maps = grid
    ? captioned.decoded!.map((d, i) => ({ grid, words: captioned.hypotheses[i], weights: d.attention!, ...crop }))
    : undefined;
  const report = await buildReport(
    config,
    prepare,
    record,
    rows.map((r, i) => ({ ...r, attention: maps?.[i] })),
  );
  throwIfStopRequested('eval stopped before writing its outputs; the previous ones are unchanged');
  record.elapsedSeconds.total = (performance.now() - started) / 1000;
  // One set: a failure leaves the previous metrics, predictions and report together, never a mix.
  await writeFileSetAtomic([
    { target: files.predictions, data: rows.map((r) => `${JSON.stringify(r)}\n`).join('') },
    { target: files.report, data: report },
    { target: files.metrics, data: `${JSON.stringify(record, null, 2)}\n` },
  ]);
  info(`eval: wrote ${files.metrics}, ${files.predictions} and ${files.report} (${formatSeconds(record.elapsedSeconds.total)} in all)`);
  return { record, outDir, files };
}

async function buildReport(
  config: EvalConfig,
  prepare: PrepareRecord,
  record: EvalRecord,
  rows: Omit<ReportRow, 'thumbnail'>[],
): Promise<string> {
  const imagesDir = typeof prepare.config?.imagesDir === 'string' ? prepare.config.imagesDir : undefined;
  const thumbs = config.thumbnails && imagesDir ? await thumbnails(rows.map((r) => path.resolve(config.runDir, imagesDir, r.image))) : [];
  const curvesFile = runPath(config.runDir, 'trainDir', 'history.png');
  const trainingCurves = existsSync(curvesFile) ? `data:image/png;base64,${(await fs.readFile(curvesFile)).toString('base64')}` : undefined;
  const reportDir = path.resolve(config.outDir ?? runPath(config.runDir, 'evalDir'));
  return renderReport({ record, rows: rows.map((r, i) => ({ ...r, thumbnail: thumbs[i] })), trainingCurves, reportDir });
}
