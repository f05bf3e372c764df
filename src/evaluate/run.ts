// `capgen eval`: caption every image of a split with a checkpoint (or take a predictions file),
// score against the image's references, and write metrics.json, predictions.jsonl and report.html.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic, writeJsonLinesAtomic } from '../io/atomic.js';
import { formatSeconds, info } from '../log.js';
import type { PrepareRecord } from '../run/formats.js';
import { runPath } from '../run/layout.js';
import type { EvalConfig } from './config.js';
import { scoreCaptions } from './metrics/index.js';
import { metricValues, type EvalRecord } from './record.js';
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
  const scoringSeconds = (performance.now() - scoringStarted) / 1000;
  const splits = [...new Set(captioned.items.map((i) => i.split))].sort();
  const record: EvalRecord = {
    createdAt: new Date().toISOString(),
    split: config.predictionsFile ? splits.join('+') : config.split,
    images: captioned.items.length,
    references: captioned.items.reduce((n, i) => n + i.references.length, 0),
    metrics: metricValues(scores),
    bleu: { ...scores.bleuDetails, smoothing: scores.smoothing, sentenceSmoothing: scores.sentenceSmoothing, weights: 'cumulative uniform: (1), (1/2,1/2), (1/3,1/3,1/3), (1/4,1/4,1/4,1/4)' },
    source: captioned.source,
    cleaning: captioned.cleaning,
    skipped: captioned.skipped,
    elapsedSeconds: { decoding: captioned.decodingSeconds, scoring: scoringSeconds, total: 0 },
    backend: captioned.backend,
  };

  const outDir = config.outDir ?? runPath(config.runDir, 'evalDir');
  const files = { metrics: path.join(outDir, EVAL_FILES.metrics), predictions: path.join(outDir, EVAL_FILES.predictions), report: path.join(outDir, EVAL_FILES.report) };
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
  await writeJsonLinesAtomic(files.predictions, rows);
  const grid = captioned.attentionGrid;
  const encoder = captioned.source.kind === 'model' ? captioned.source.encoder : undefined;
  const crop = encoder?.resize === 'crop' ? { crop: encoder.inputSize } : {};
  const maps = grid ? captioned.decoded!.map((d, i) => ({ grid, words: captioned.hypotheses[i], weights: d.attention!, ...crop })) : undefined;
  await writeFileAtomic(files.report, await buildReport(config, prepare, record, rows.map((r, i) => ({ ...r, attention: maps?.[i] }))));
  record.elapsedSeconds.total = (performance.now() - started) / 1000;
  await writeJsonAtomic(files.metrics, record);
  info(`eval: wrote ${files.metrics}, ${files.predictions} and ${files.report} (${formatSeconds(record.elapsedSeconds.total)} in all)`);
  return { record, outDir, files };
}

async function buildReport(config: EvalConfig, prepare: PrepareRecord, record: EvalRecord, rows: Omit<ReportRow, 'thumbnail'>[]): Promise<string> {
  const imagesDir = typeof prepare.config?.imagesDir === 'string' ? prepare.config.imagesDir : undefined;
  const thumbs = config.thumbnails && imagesDir ? await thumbnails(rows.map((r) => path.resolve(config.runDir, imagesDir, r.image))) : [];
  const curvesFile = runPath(config.runDir, 'trainDir', 'history.png');
  const trainingCurves = existsSync(curvesFile) ? `data:image/png;base64,${(await fs.readFile(curvesFile)).toString('base64')}` : undefined;
  return renderReport({ record, rows: rows.map((r, i) => ({ ...r, thumbnail: thumbs[i] })), trainingCurves });
}
