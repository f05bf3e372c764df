// A tiny prepared run folder, generated: images are random feature vectors of four classes, and each
// caption names its image's class, so a model can only be right by looking at the image.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FeatureSource } from '../../src/train/data.js';
import type { EncoderIdentity, PrepareRecord, PreparedCaption, VocabularyFile } from '../../src/run/formats.js';
import { DEFAULT_CLEANING } from '../../src/text/clean.js';
import { mulberry32 } from '../../src/util/random.js';

export const CLASSES = ['dog', 'cat', 'bird', 'fish'];
const VERBS = ['runs', 'sits', 'plays'];

export function encoderIdentity(over: Partial<EncoderIdentity> = {}): EncoderIdentity {
  return {
    architecture: 'test-random',
    weightsHash: 'seeded:1',
    layer: 'none',
    preprocess: 'unit',
    resize: 'squash',
    pooling: 'avg',
    inputSize: [8, 8],
    featureShape: [16],
    ...over,
  };
}

export interface TinyRun {
  runDir: string;
  features: Map<string, Float32Array>;
  openFeatures: () => FeatureSource;
  /** Class of each image. */
  classOf: Map<string, number>;
  vocab: VocabularyFile;
}

/**
 * imagesPerClass images per class, 3 captions each; 1 of 4 images goes to dev. With `featureShape`
 * [H, W, C] the features are spatial (pooling 'none'), and the class shows in one random region only.
 */
export function writeTinyRun(
  dir: string,
  opts: { imagesPerClass?: number; featureSize?: number; featureShape?: number[]; seed?: number } = {},
): TinyRun {
  const perClass = opts.imagesPerClass ?? 6;
  const spatial = opts.featureShape !== undefined && opts.featureShape.length > 1;
  const featureShape = opts.featureShape ?? [opts.featureSize ?? 16];
  const featureSize = featureShape.reduce((a, d) => a * d, 1);
  const rand = mulberry32(opts.seed ?? 7);
  const vocab: VocabularyFile = {
    tokens: ['<pad>', '<start>', '<end>', '<unk>', 'a', ...CLASSES, ...VERBS, 'here'],
    specials: { pad: 0, start: 1, end: 2, unk: 3 },
    minCount: 1,
  };
  const features = new Map<string, Float32Array>();
  const classOf = new Map<string, number>();
  const captions: PreparedCaption[] = [];
  let n = 0;
  for (let c = 0; c < CLASSES.length; c++) {
    for (let i = 0; i < perClass; i++) {
      const image = `img${n}.jpg`;
      const vec = new Float32Array(featureSize);
      for (let k = 0; k < featureSize; k++) vec[k] = 0.3 * rand();
      // The class is visible in the features: in one region (drawn per image) of a spatial map.
      const region = spatial ? Math.floor(rand() * featureShape[0] * featureShape[1]) : 0;
      vec[region * featureShape[featureShape.length - 1] + c] += 1;
      features.set(image, vec);
      classOf.set(image, c);
      const split = n % 4 === 3 ? 'dev' : 'train';
      for (let k = 0; k < 3; k++) {
        const tokens = ['a', CLASSES[c], VERBS[(i + k) % VERBS.length], ...(k === 2 ? ['here'] : [])];
        captions.push({ image, split, raw: tokens.join(' '), tokens });
      }
      n++;
    }
  }
  const runDir = path.join(dir, 'run');
  mkdirSync(runDir, { recursive: true });
  const prepare: PrepareRecord = {
    createdAt: new Date(0).toISOString(),
    capgenVersion: 'test',
    config: {},
    cleaning: DEFAULT_CLEANING,
    maxCaptionLength: 5,
    stats: {},
    features: {
      dir: 'features/test',
      encoder: encoderIdentity({ featureShape, ...(spatial ? { pooling: 'none' } : {}) }),
      dtype: 'float32',
    },
  };
  writeFileSync(path.join(runDir, 'prepare.json'), JSON.stringify(prepare));
  writeFileSync(path.join(runDir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(path.join(runDir, 'captions.jsonl'), captions.map((c) => JSON.stringify(c)).join('\n') + '\n');
  const openFeatures = (): FeatureSource => ({ dim: featureSize, get: (name) => features.get(name) });
  return { runDir, features, openFeatures, classOf, vocab };
}
