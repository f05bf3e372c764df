// `capgen eval`: caption every image of a split with a checkpoint (or take a predictions file),
// score against the image's references, and write metrics.json, predictions.jsonl and report.html.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describeBackend, initBackend } from '../backend/index.js';
import { decodeFeatures, type DecodedCaption } from '../decode/index.js';
import { CapgenError } from '../errors.js';
import { openFeatureCache } from '../features/cache.js';
import { writeFileAtomic, writeJsonAtomic, writeJsonLinesAtomic } from '../io/atomic.js';
import { formatSeconds, info, progressBar, warn } from '../log.js';
import { assertSameEncoder, CHECKPOINT_FILES, defaultCheckpointDir, loadCheckpoint } from '../model/checkpoint.js';
import type { PrepareRecord } from '../run/formats.js';
import { runPath } from '../run/layout.js';
import { cleanCaption, type CleaningRules } from '../text/clean.js';
import { Vocabulary } from '../text/vocabulary.js';
import type { EvalConfig } from './config.js';
import { scoreCaptions } from './metrics/index.js';
import { metricValues, type EvalRecord } from './record.js';
import { referencesByImage, type ImageReferences } from './references.js';
import { renderReport } from './report-html.js';
import { readPredictions, readPrepareRecord, readPreparedCaptions } from './run-files.js';
import { thumbnails } from './thumbnails.js';

export const EVAL_FILES = { metrics: 'metrics.json', predictions: 'predictions.jsonl', report: 'report.html' } as const;

export interface EvalResult {
  record: EvalRecord;
  outDir: string;
  files: { metrics: string; predictions: string; report: string };
}

/** What was captioned, however it was produced. */
interface Captioned {
  items: ImageReferences[];
  hypotheses: string[][];
  decoded?: DecodedCaption[];
  source: EvalRecord['source'];
  cleaning: CleaningRules;
  skipped: EvalRecord['skipped'];
  decodingSeconds: number;
  backend?: string;
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
  await writeFileAtomic(files.report, await buildReport(config, prepare, record, rows));
  record.elapsedSeconds.total = (performance.now() - started) / 1000;
  await writeJsonAtomic(files.metrics, record);
  info(`eval: wrote ${files.metrics}, ${files.predictions} and ${files.report} (${formatSeconds(record.elapsedSeconds.total)} in all)`);
  return { record, outDir, files };
}

async function fromPredictions(config: EvalConfig, file: string, prepare: PrepareRecord, captions: Awaited<ReturnType<typeof readPreparedCaptions>>): Promise<Captioned> {
  // the training rules: the references were cleaned with them when the model learnt
  const cleaning = prepare.cleaning;
  const refs = referencesByImage(captions, cleaning);
  let predictions = await readPredictions(file);
  if (config.limit !== undefined) predictions = predictions.slice(0, config.limit);
  const items = predictions.map((p) => {
    const item = refs.get(p.image);
    if (!item || item.references.length === 0) {
      throw new CapgenError('BAD_INPUT', `image '${p.image}' has no reference captions in ${runPath(config.runDir, 'captions')}`, { file, hint: 'predict images of this run\'s dataset, named as in its caption file' });
    }
    return item;
  });
  info(`eval: scoring ${items.length} predictions from ${file}`);
  return {
    items,
    hypotheses: predictions.map((p) => cleanCaption(p.caption, cleaning)),
    source: { kind: 'predictions', file: path.resolve(file) },
    cleaning,
    skipped: [],
    decodingSeconds: 0,
  };
}

async function fromModel(
  config: EvalConfig,
  prepare: PrepareRecord,
  captions: Awaited<ReturnType<typeof readPreparedCaptions>>,
  captionsFile: string,
): Promise<Captioned> {
  const backend = describeBackend(await initBackend(config.backend));
  info(backend);
  const checkpointDir = config.checkpointDir ?? defaultCheckpointDir(config.runDir);
  const { meta, model } = await loadCheckpoint(checkpointDir);
  try {
    const vocab = Vocabulary.fromFile(meta.vocab, path.join(checkpointDir, CHECKPOINT_FILES.meta));
    const refs = referencesByImage(captions, meta.cleaning);
    let items = [...refs.values()].filter((i) => i.split === config.split);
    if (items.length === 0) {
      const counts = [...refs.values()].reduce<Record<string, number>>((acc, i) => ({ ...acc, [i.split]: (acc[i.split] ?? 0) + 1 }), {});
      const have = Object.entries(counts).map(([s, n]) => `${s} ${n}`).join(', ');
      throw new CapgenError('USAGE', `the ${config.split} split of this run has no images (it has: ${have || 'none'})`, {
        file: captionsFile,
        hint: config.split === 'test' ? 'use --split dev (Flickr8k copies without the test list have no test split)' : 'choose another --split',
      });
    }
    const skipped: EvalRecord['skipped'] = items.filter((i) => i.references.length === 0).map((i) => ({ image: i.image, reason: 'no references left after cleaning' }));
    items = items.filter((i) => i.references.length > 0);
    if (config.limit !== undefined) items = items.slice(0, config.limit);

    if (!prepare.features) {
      throw new CapgenError('NOT_FOUND', 'this run has no image features', { file: runPath(config.runDir, 'prepareJson'), hint: 'rerun `capgen prepare` with an --encoder' });
    }
    const cacheDir = path.join(config.runDir, prepare.features.dir);
    const cache = await openFeatureCache(cacheDir);
    let vectors: Float32Array[];
    try {
      assertSameEncoder(meta.encoder, cache.identity, cacheDir);
      const withFeatures: ImageReferences[] = [];
      vectors = [];
      for (const item of items) {
        const v = cache.get(item.image);
        if (v) {
          withFeatures.push(item);
          vectors.push(v);
        } else skipped.push({ image: item.image, reason: 'no features in the cache (missing or unreadable image)' });
      }
      items = withFeatures;
    } finally {
      cache.close();
    }
    if (skipped.length) warn(`${skipped.length} images of the ${config.split} split are left out (see "skipped" in metrics.json)`);
    if (items.length === 0) throw new CapgenError('BAD_INPUT', `no image of the ${config.split} split can be captioned`, { file: cacheDir, hint: 'rerun `capgen prepare`' });

    const decoding = { maxLength: meta.maxCaptionLength, beamSize: config.beamSize, lengthPenalty: config.lengthPenalty, batchSize: config.batchSize };
    const how = config.beamSize === 1 ? 'greedy' : `beam ${config.beamSize}, length penalty ${config.lengthPenalty}`;
    info(`eval: ${config.split} split, ${items.length} images, checkpoint ${checkpointDir} (epoch ${meta.epoch}), ${how}, at most ${meta.maxCaptionLength} words, ${config.batchSize} images a batch`);
    const bar = progressBar(items.length, 'decoding |{bar}| {value}/{total} images | {eta_formatted} left');
    const decodeStarted = performance.now();
    let decoded: DecodedCaption[];
    try {
      decoded = await decodeFeatures(model, vectors, { ...decoding, onProgress: (done) => bar.update(done) });
    } finally {
      bar.stop();
    }
    const decodingSeconds = (performance.now() - decodeStarted) / 1000;
    info(`eval: decoded ${items.length} images in ${formatSeconds(decodingSeconds)} (${((decodingSeconds * 1000) / items.length).toFixed(1)} ms per image)`);
    return {
      items,
      hypotheses: decoded.map((d) => vocab.decode(d.tokens)),
      decoded,
      source: { kind: 'model', checkpoint: path.resolve(checkpointDir), epoch: meta.epoch, architecture: meta.architecture, encoder: meta.encoder, decoding },
      cleaning: meta.cleaning,
      skipped,
      decodingSeconds,
      backend: backend.replace(/^backend: /, ''),
    };
  } finally {
    model.dispose();
  }
}

async function buildReport(config: EvalConfig, prepare: PrepareRecord, record: EvalRecord, rows: { image: string; caption: string; references: string[]; bleu4: number; ciderD: number }[]): Promise<string> {
  const imagesDir = typeof prepare.config?.imagesDir === 'string' ? prepare.config.imagesDir : undefined;
  const thumbs = config.thumbnails && imagesDir ? await thumbnails(rows.map((r) => path.resolve(config.runDir, imagesDir, r.image))) : [];
  const curvesFile = runPath(config.runDir, 'trainDir', 'history.png');
  const trainingCurves = existsSync(curvesFile) ? `data:image/png;base64,${(await fs.readFile(curvesFile)).toString('base64')}` : undefined;
  return renderReport({ record, rows: rows.map((r, i) => ({ ...r, thumbnail: thumbs[i] })), trainingCurves });
}
