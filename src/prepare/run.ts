// `capgen prepare`: dataset folder -> run folder (captions.jsonl, vocab.json, missing-images.txt,
// bad-images.txt, prepare.json and the image features). prepare.json is written last: its presence
// means the rest is complete.
import { createRequire } from 'node:module';
import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic, writeJsonLinesAtomic } from '../io/atomic.js';
import { info, warn } from '../log.js';
import type { PrepareRecord, PreparedCaption, SplitName } from '../run/formats.js';
import { runPath } from '../run/layout.js';
import { defaultCheckpointDir, lastCheckpointDir, readCheckpointMeta, trainSplitRecord } from '../model/checkpoint.js';
import { generateSyntheticDataset } from '../synthetic/generate.js';
import { DEFAULT_CLEANING } from '../text/clean.js';
import { countTokens, requireWords, Vocabulary } from '../text/vocabulary.js';
import { CapgenError } from '../errors.js';
import { capLength, defaultMaxLength, lengthPercentiles, MAX_LENGTH_CAP, MAX_LENGTH_PERCENTILE } from './captions.js';
import type { PrepareConfig } from './config.js';
import { loadDataset } from './dataset.js';
import { computeFeatures, type FeaturesOutcome } from './features-step.js';
import type { LineIssue } from './readers/types.js';
import type { PrepareSummary } from './summary.js';
import { throwIfStopRequested } from '../util/signals.js';

const require = createRequire(import.meta.url);
const CAPGEN_VERSION = (require('../../package.json') as { version: string }).version;
/** Per kind of problem, the first few are printed in full; the rest are counted. */
const MAX_WARNINGS_PER_KIND = 5;

function warnIssues(kind: string, issues: LineIssue[]): void {
  for (const i of issues.slice(0, MAX_WARNINGS_PER_KIND)) warn(`${i.file}:${i.line}: ${i.message}`);
  if (issues.length > MAX_WARNINGS_PER_KIND) warn(`... and ${issues.length - MAX_WARNINGS_PER_KIND} more ${kind}`);
}

function countBy<T>(items: T[], key: (t: T) => SplitName): Record<SplitName, number> {
  const out = { train: 0, dev: 0, test: 0 };
  for (const item of items) out[key(item)]++;
  return out;
}

function requireTrainCaptions(captions: { split: SplitName }[], captionFile: string): void {
  if (captions.some((c) => c.split === 'train')) return;
  throw new CapgenError('BAD_INPUT', 'no training captions left to build a vocabulary from', {
    file: captionFile,
    hint: 'check that the split lists name images that exist and can be read, or use --split for a random split',
  });
}

export async function run(config: PrepareConfig): Promise<PrepareSummary> {
  const startMs = Date.now();
  if (config.dataset === 'synthetic') {
    info(`generating ${config.count} synthetic scenes (seed ${config.seed}) into ${config.dataDir}`);
    await generateSyntheticDataset({ outDir: config.dataDir, count: config.count, seed: config.seed });
  }
  throwIfStopRequested('prepare stopped before reading the captions; nothing was written');
  const rules = DEFAULT_CLEANING;
  const data = await loadDataset({ ...config, rules });
  const { layout } = data;
  const { captionFiles } = data;
  const from =
    captionFiles.length > 3 ? `${captionFiles.length} files (${captionFiles[0]} ... ${captionFiles.at(-1)})` : captionFiles.join(' + ');
  info(`reading ${layout.format} captions from ${from}, images from ${data.images.where}`);
  warnIssues('malformed lines (skipped)', data.malformed);
  warnIssues('duplicate caption ids (first kept)', data.duplicates);
  warnIssues('empty captions (skipped)', data.empty);
  if (data.missingImages.length)
    warn(
      `${data.missingImages.length} images named by captions are not in ${data.images.where}: left out, listed in ${runPath(config.outDir, 'missingImages')}`,
    );
  if (data.splits.unlisted.length) warn(`${data.splits.unlisted.length} images are in no split list: left out`);
  if (data.splits.inSeveralLists.length)
    warn(`${data.splits.inSeveralLists.length} images are in several split lists: each kept in the first (train, dev, test)`);
  for (const note of data.splits.notes) info(`note: ${note}`);

  let captions = data.captions;
  requireTrainCaptions(captions, layout.captionFile);
  // before the features, which take long: an empty vocabulary would only be found after them
  requireWords(countTokens(captions.filter((c) => c.split === 'train').map((c) => c.tokens)), config.minCount, layout.captionFile);
  let features: FeaturesOutcome | undefined;
  if (config.features.encoder !== 'none') {
    const images = [...new Set(captions.map((c) => c.image))];
    info(`image features: ${images.length} images through encoder ${config.features.encoder}`);
    features = await computeFeatures({
      runDir: config.outDir,
      images,
      source: data.images,
      config: config.features,
      backend: config.backend,
      cacheRoot: config.featureCache,
    });
    if (features.bad.length) {
      const bad = new Set(features.bad.map((b) => b.name));
      warn(`${bad.size} images could not be read: left out, listed in ${runPath(config.outDir, 'badImages')}`);
      captions = captions.filter((c) => !bad.has(c.image));
      requireTrainCaptions(captions, layout.captionFile);
    }
  }

  const lengths = lengthPercentiles(captions.map((c) => c.tokens.length));
  const maxLength = config.maxLength ?? defaultMaxLength(captions.map((c) => c.tokens.length));
  const truncated = capLength(captions, maxLength);
  if (truncated) {
    const why =
      config.maxLength === undefined
        ? `the ${MAX_LENGTH_PERCENTILE}th percentile of caption lengths${maxLength === MAX_LENGTH_CAP ? `, capped at ${MAX_LENGTH_CAP}` : ''}; --max-length N to change it`
        : '--max-length';
    warn(`${truncated} caption${truncated === 1 ? ' was' : 's were'} cut to ${maxLength} tokens (${why})`);
  }
  const maxCaptionLength = captions.reduce((m, c) => Math.max(m, c.tokens.length), 0);
  const train = captions.filter((c) => c.split === 'train');
  const trainCounts = countTokens(train.map((c) => c.tokens));
  requireWords(trainCounts, config.minCount, layout.captionFile); // again: unreadable images took some captions away
  const vocab = Vocabulary.build(trainCounts, config.minCount);
  const coverage = vocab.coverage(trainCounts);

  const rows: PreparedCaption[] = captions.map((c) => ({ image: c.image, split: c.split, raw: c.raw, tokens: c.tokens }));
  await writeJsonLinesAtomic(runPath(config.outDir, 'captions'), rows);
  await writeJsonAtomic(runPath(config.outDir, 'vocab'), vocab.toFile());
  await writeFileAtomic(runPath(config.outDir, 'missingImages'), data.missingImages.map((n) => `${n}\n`).join(''));
  await writeFileAtomic(
    runPath(config.outDir, 'badImages'),
    (features?.bad ?? []).map((b) => `${b.name}\t${b.reason.replace(/\s+/g, ' ')}\n`).join(''),
  );

  const imagesKept = new Map(captions.map((c) => [c.image, c.split]));
  const summary: PrepareSummary = {
    dataDir: config.dataDir,
    format: layout.format,
    outDir: config.outDir,
    images: imagesKept.size,
    captions: captions.length,
    vocabularySize: vocab.size,
    minCount: config.minCount,
    coverage,
    splitSource: data.splits.source,
    splitImages: countBy([...imagesKept.values()], (s) => s),
    splitCaptions: countBy(captions, (c) => c.split),
    lengthPercentiles: lengths,
    maxCaptionLength,
    truncated,
    malformedLines: data.malformed.length,
    duplicateCaptions: data.duplicates.length,
    emptyCaptions: data.empty.length,
    missingImages: data.missingImages.length,
    unlistedImages: data.splits.unlisted.length,
    badImages: features?.bad.length ?? 0,
    features: features
      ? {
          dir: features.record.dir,
          architecture: features.record.encoder.architecture,
          computed: features.computed,
          reused: features.reused,
        }
      : null,
    elapsedMs: 0,
  };
  const record: PrepareRecord = {
    createdAt: new Date().toISOString(),
    capgenVersion: CAPGEN_VERSION,
    config: {
      ...config,
      dataDir: path.resolve(config.dataDir),
      captionFile: path.resolve(layout.captionFile),
      captionFiles: captionFiles.map((f) => path.resolve(f)),
      // none for tars (eval's thumbnails need a folder)
      imagesDir: layout.imagesDir === undefined ? undefined : path.resolve(layout.imagesDir),
      format: layout.format,
    },
    cleaning: rules,
    maxCaptionLength,
    stats: { ...summary, records: data.records, splitNotes: data.splits.notes },
    ...(features ? { features: features.record } : {}),
  };
  summary.elapsedMs = Date.now() - startMs;
  record.stats.elapsedMs = summary.elapsedMs;
  await writeJsonAtomic(runPath(config.outDir, 'prepareJson'), record);
  await warnIfTrainSplitChanged(
    config.outDir,
    train.map((c) => c.image),
  );
  return summary;
}

/**
 * A checkpoint in the run trained on another training split than the one just written: warned
 * about, not refused (preparing again is how a run gets a new split before `train --overwrite`);
 * eval and train --resume refuse that checkpoint with this split.
 */
async function warnIfTrainSplitChanged(runDir: string, trainImages: string[]): Promise<void> {
  const now = trainSplitRecord(trainImages);
  for (const dir of [defaultCheckpointDir(runDir), lastCheckpointDir(runDir)]) {
    let meta;
    try {
      meta = await readCheckpointMeta(dir);
    } catch {
      continue; // no checkpoint, or a damaged one: the commands that read it will say so
    }
    if (!meta.trainSplit || meta.trainSplit.sha256 === now.sha256) continue;
    warn(
      `${dir} was trained on another training split (${meta.trainSplit.images} images, now ${now.images}): eval refuses to score it on images it was trained on and train --resume refuses to go on; train again with \`capgen train --run ${runDir} --overwrite\``,
    );
    return;
  }
}
