// Where eval's captions come from: decoded from the split's cached features with a checkpoint, or
// read from a predictions file; either way paired with the image's references.
import path from 'node:path';
import { describeBackend, initBackend } from '../backend/index.js';
import { decodeFeatures, describeDecoding, type DecodedCaption } from '../decode/index.js';
import { CapgenError } from '../errors.js';
import { openFeatureCache, type FeatureCache } from '../features/cache.js';
import { checkFeatureCoverage } from '../features/coverage.js';
import { formatSeconds, info, progressBar, warn } from '../log.js';
import { assertNotTrainedOn, assertSameEncoder, CHECKPOINT_FILES, defaultCheckpointDir } from '../model/checkpoint.js';
import { loadTrainedCaptioner } from '../captioner/captioner.js';
import type { PreparedCaption, PrepareRecord } from '../run/formats.js';
import { runPath } from '../run/layout.js';
import { cleanCaption, type CleaningRules } from '../text/clean.js';
import { throwIfStopRequested } from '../util/signals.js';
import type { EvalConfig } from './config.js';
import type { EvalRecord } from './record.js';
import { referencesByImage, type ImageReferences } from './references.js';
import { readPredictions } from './run-files.js';

/** What was captioned, however it was produced. */
export interface Captioned {
  items: ImageReferences[];
  hypotheses: string[][];
  decoded?: DecodedCaption[];
  /** [H, W] of decoded[i].attention, when the model attends and the report shows maps. */
  attentionGrid?: [number, number];
  source: EvalRecord['source'];
  cleaning: CleaningRules;
  skipped: EvalRecord['skipped'];
  decodingSeconds: number;
  backend?: string;
}

export async function fromPredictions(
  config: EvalConfig,
  file: string,
  prepare: PrepareRecord,
  captions: PreparedCaption[],
): Promise<Captioned> {
  // the training rules: the references were cleaned with them when the model learnt
  const cleaning = prepare.cleaning;
  const refs = referencesByImage(captions, cleaning);
  let predictions = await readPredictions(file);
  if (config.limit !== undefined) predictions = predictions.slice(0, config.limit);
  const items = predictions.map((p) => {
    // predictions often name images by path (Images/x.jpg); the dataset names them by file name
    const item = refs.get(p.image) ?? refs.get(path.basename(p.image));
    if (!item || item.references.length === 0) {
      throw new CapgenError('BAD_INPUT', `image '${p.image}' has no reference captions in ${runPath(config.runDir, 'captions')}`, {
        file,
        hint: "predict images of this run's dataset, named as in its caption file",
      });
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

export async function fromModel(
  config: EvalConfig,
  prepare: PrepareRecord,
  captions: PreparedCaption[],
  captionsFile: string,
): Promise<Captioned> {
  const backend = describeBackend(await initBackend(config.backend));
  info(backend);
  const checkpointDir = config.checkpointDir ?? defaultCheckpointDir(config.runDir);
  const captioner = await loadTrainedCaptioner(checkpointDir, { trainImages: true });
  const { meta, model, vocab, trainImages, cleaning, featureShape } = captioner;
  let cache: FeatureCache | undefined;
  try {
    const refs = referencesByImage(captions, cleaning);
    let items = [...refs.values()].filter((i) => i.split === config.split);
    if (items.length === 0) {
      const counts = [...refs.values()].reduce<Record<string, number>>((acc, i) => ({ ...acc, [i.split]: (acc[i.split] ?? 0) + 1 }), {});
      const have = Object.entries(counts)
        .map(([s, n]) => `${s} ${n}`)
        .join(', ');
      // eval scores held-out images only: suggest the other of dev and test, when it has images
      const other = config.split === 'test' ? 'dev' : 'test';
      throw new CapgenError('USAGE', `the ${config.split} split of this run has no images (it has: ${have || 'none'})`, {
        file: captionsFile,
        hint: counts[other]
          ? `use --split ${other}${other === 'dev' ? ' (Flickr8k copies without the test list have no test split)' : ''}`
          : 'prepare the run again with a dev or test share (e.g. --split 0.8,0.1,0.1)',
      });
    }
    // Scores on images the model was trained on say nothing about it.
    assertNotTrainedOn({
      trainImages,
      evaluated: items.map((i) => i.image),
      split: config.split,
      file: path.join(checkpointDir, CHECKPOINT_FILES.trainImages),
    });
    const skipped: EvalRecord['skipped'] = items
      .filter((i) => i.references.length === 0)
      .map((i) => ({ image: i.image, reason: 'no references left after cleaning' }));
    items = items.filter((i) => i.references.length > 0);
    if (config.limit !== undefined) items = items.slice(0, config.limit);

    if (!prepare.features) {
      throw new CapgenError('NOT_FOUND', 'this run has no image features', {
        file: runPath(config.runDir, 'prepareJson'),
        hint: 'rerun `capgen prepare` with an --encoder',
      });
    }
    // An absolute dir (a cache kept outside the run) stays as it is; a relative one is under the run.
    const cacheDir = path.resolve(config.runDir, prepare.features.dir);
    const features = (cache = await openFeatureCache(cacheDir));
    if (features.damaged) warn(`eval: ${features.damaged} cached features failed their hash check`);
    assertSameEncoder(meta.encoder, features.identity, cacheDir);
    const withFeatures: ImageReferences[] = [];
    for (const item of items) {
      if (features.has(item.image)) withFeatures.push(item);
      else skipped.push({ image: item.image, reason: 'no usable feature in the cache (damaged or incomplete cache)' });
    }
    const splitImages = items.length;
    items = withFeatures;
    checkFeatureCoverage([{ split: config.split, images: splitImages, missing: splitImages - items.length }], {
      cacheDir,
      command: 'eval',
    });
    // Read batch by batch while decoding (src/decode/index.ts): never the whole split's features at once.
    const decodedItems = items;
    const vectors = { length: items.length, get: (i: number) => features.get(decodedItems[i].image) as Float32Array };
    if (skipped.length) warn(`${skipped.length} images of the ${config.split} split are left out (see "skipped" in metrics.json)`);
    if (items.length === 0)
      throw new CapgenError('BAD_INPUT', `no image of the ${config.split} split can be captioned`, {
        file: cacheDir,
        hint: 'rerun `capgen prepare`',
      });

    const decoding = { ...captioner.decodeOptions(config), batchSize: config.batchSize };
    // Rows are read back only for the report's maps: without them decoding holds no attention at all.
    const attentionGrid = config.attentionMaps && 'grid' in captioner.attention ? captioner.attention.grid : undefined;
    const how = describeDecoding(config);
    info(
      `eval: ${config.split} split, ${items.length} images, checkpoint ${checkpointDir} (epoch ${meta.epoch}), ${how}, at most ${meta.maxCaptionLength} words, ${config.batchSize} images a batch${attentionGrid ? `, attention maps ${attentionGrid.join('x')}` : ''}`,
    );
    const bar = progressBar(items.length, 'decoding |{bar}| {value}/{total} images | {eta_formatted} left');
    const decodeStarted = performance.now();
    let decoded: DecodedCaption[];
    try {
      decoded = await decodeFeatures(model, vectors, {
        ...decoding,
        featureShape,
        ...(attentionGrid ? { attention: { grid: attentionGrid } } : {}),
        onProgress: (done) => {
          bar.update(done);
          throwIfStopRequested(`eval stopped after decoding ${done} images; nothing was written`);
        },
      });
    } finally {
      bar.stop();
    }
    const decodingSeconds = (performance.now() - decodeStarted) / 1000;
    info(
      `eval: decoded ${items.length} images in ${formatSeconds(decodingSeconds)} (${((decodingSeconds * 1000) / items.length).toFixed(1)} ms per image)`,
    );
    return {
      items,
      hypotheses: decoded.map((d) => vocab.decode(d.tokens)),
      decoded,
      ...(attentionGrid ? { attentionGrid } : {}),
      source: {
        kind: 'model',
        checkpoint: path.resolve(checkpointDir),
        epoch: meta.epoch,
        architecture: meta.architecture,
        encoder: meta.encoder,
        decoding,
      },
      cleaning,
      skipped,
      decodingSeconds,
      backend: backend.replace(/^backend: /, ''),
    };
  } finally {
    cache?.close();
    captioner.dispose();
  }
}
