// Self-critical training's parts on a tiny model: the reward is the evaluator's CIDEr-D (training
// split's document frequencies, the end token as a word), the mean-of-others baseline, and one
// step moving the log-probability of a high-reward sample up and of a low-reward one down, on every engine.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendInfo } from '../../src/backend/index.js';
import { ciderD } from '../../src/evaluate/metrics/cider.js';
import { setLogLevel } from '../../src/log.js';
import type { BaseSizes, DecoderSpec } from '../../src/model/decoder.js';
import { initialWeights, mergeLstm, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { DECODERS } from '../../src/model/registry.js';
import { TfjsDecoder } from '../../src/engine/tfjs-decoder.js';
import { SPECIAL_IDS } from '../../src/run/formats.js';
import { loadTrainingData, type TrainingData } from '../../src/train/data.js';
import {
  captionsByImage,
  drawPartImages,
  END_WORD,
  meanBaselineAdvantages,
  rewardWords,
  SCST_DRAW_ROWS,
  SCST_MICRO_BATCH_CAPTIONS,
  scstMicroBatch,
  startScst,
} from '../../src/train/scst.js';
import { sampleSearch } from '../../src/decode/sample.js';
import { OnnxStepDecoder } from '../../src/engine/onnx/step-decoder.js';
import { startTrainingEngine, type EngineChoice } from '../../src/train/step.js';
import { SKIP_ORT } from '../features/onnx-helpers.js';
import { tempDir } from '../helpers.js';
import { writeTinyRun } from './fixtures.js';

const ENGINES: { name: string; choice: Exclude<EngineChoice, 'auto'>; replicas: number }[] = [
  ...(SKIP_ORT ? [] : [{ name: 'onnx', choice: 'onnx' as const, replicas: 1 }]),
  { name: 'tfjs, 1 replica', choice: 'tfjs', replicas: 1 },
  { name: 'tfjs, 2 replicas', choice: 'tfjs', replicas: 2 },
];

let data: TrainingData;
/** The same kind of run with 2x2 feature maps (attention, transformer). */
let spatial: TrainingData;
let backend: BackendInfo;
const sizesOf = (d: TrainingData): MergeLstmSizes => ({
  vocabSize: d.vocab.tokens.length,
  embeddingSize: 8,
  hiddenSize: 16,
  featureSize: d.featureSize,
  dropout: 0,
});

async function engineFor(e: (typeof ENGINES)[number], learningRate = 0.01) {
  const sizes = sizesOf(data);
  const engine = await startTrainingEngine({
    choice: e.choice,
    backend,
    spec: mergeLstm,
    sizes,
    initialWeights: initialWeights(sizes, 5),
    adam: { learningRate, clipNorm: 0 },
    data,
    batchSize: 64,
    labelSmoothing: 0,
    replicas: e.replicas,
  });
  return { engine, sizes };
}

/** log p(caption, end token included) of image row `row` under `weights`, word by word through the step decoder. */
async function logProbOf(
  model: { spec: DecoderSpec; sizes: BaseSizes; data: TrainingData },
  weights: Record<string, Float32Array>,
  caption: { imageRow: number; ids: Int32Array },
): Promise<number> {
  const { spec, sizes, data } = model;
  const { imageRow: row, ids } = caption;
  const decoder = new TfjsDecoder(spec, sizes, weights);
  const feature = new Float32Array(data.featureSize);
  (await data.features.rows([row])).copyRow(row, feature, 0);
  try {
    return tf.tidy(() => {
      let state = decoder.initState(tf.tensor(feature, [1, ...data.encoder.featureShape]));
      let previous: number = SPECIAL_IDS.start;
      let total = 0;
      [...ids, SPECIAL_IDS.end].forEach((id, t) => {
        const out = decoder.step(tf.tensor1d([previous], 'int32'), state, t);
        total += out.logProbs.arraySync()[0][id];
        state = out.state;
        previous = id;
      });
      return total;
    });
  } finally {
    decoder.dispose();
  }
}

describe('self-critical training', () => {
  beforeAll(async () => {
    setLogLevel({ quiet: true });
    backend = await initBackend('cpu');
    const tiny = writeTinyRun(tempDir(), { imagesPerClass: 5 });
    data = await loadTrainingData(tiny.runDir, tiny.openFeatures);
    const maps = writeTinyRun(tempDir(), { imagesPerClass: 5, featureShape: [2, 2, 6] });
    spatial = await loadTrainingData(maps.runDir, maps.openFeatures, { layout: 'spatial', dtype: 'float32' });
  });

  it("the reward is the evaluator's CIDEr-D of the sample against its image's training references, the end token a word of both", async () => {
    const { engine, sizes } = await engineFor(ENGINES[ENGINES.length - 1]);
    const scst = startScst({ engine, data, spec: mergeLstm, sizes, samples: 2, baseline: 'mean' });
    try {
      const tokens = data.vocab.tokens;
      const images = captionsByImage(data.train);
      // Hypotheses: each image gets another image's first caption, cut short for every third image.
      const hyps = images.captions.map((_, g) => {
        const ids = data.train[images.captions[(g + 1) % images.captions.length][0]].ids;
        return g % 3 === 0 ? ids.slice(0, 2) : ids;
      });
      const references = images.captions.map((group) => group.map((c) => [...Array.from(data.train[c].ids, (id) => tokens[id]), END_WORD]));
      const evaluator = ciderD(
        references,
        hyps.map((ids) => [...Array.from(ids, (id) => tokens[id]), END_WORD]),
      );
      const rewards = images.rows.map((row, g) => scst.reward(row, hyps[g]));
      rewards.forEach((r, g) => expect(r).toBeCloseTo(evaluator.perImage[g], 12));
      expect(new Set(rewards.map((r) => r.toFixed(6))).size).toBeGreaterThan(2); // not all alike: the comparison can fail
      expect(rewardWords([4, 5], tokens)).toEqual(['a', 'dog', END_WORD]);
    } finally {
      scst.dispose();
      await engine.close();
    }
  });

  it.each(ENGINES.filter((e) => e.replicas === 1))(
    '$name: a step drawn in parts of SCST_DRAW_ROWS captions draws what one call over its images draws',
    async (e) => {
      const { engine, sizes } = await engineFor(e);
      const k = 40; // 4 images a part: 10 images are drawn in parts of 4, 4 and 2
      expect(drawPartImages(k)).toBe(Math.floor(SCST_DRAW_ROWS / k));
      const scst = startScst({ engine, data, spec: mergeLstm, sizes, samples: k, baseline: 'mean' });
      const picks = [3, 0, 7, 1, 9, 2, 8, 4, 6, 5];
      expect(picks.length).toBeGreaterThan(2 * drawPartImages(k));
      const decoder = e.choice === 'onnx' ? OnnxStepDecoder.create(mergeLstm, sizes, engine.weights()) : undefined;
      const reference = decoder ?? new TfjsDecoder(mergeLstm, sizes, engine.weights());
      const rows = picks.map((p) => scst.examples[p].imageRow);
      const flat = new Float32Array(rows.length * data.featureSize);
      const reader = await data.features.rows(rows);
      rows.forEach((row, b) => reader.copyRow(row, flat, b * data.featureSize));
      const features = tf.tensor(flat, [rows.length, ...data.encoder.featureShape]);
      try {
        const drawn = await scst.draw(picks, 11);
        const whole = sampleSearch(reference, features, { seed: 11, maxLength: data.prepare.maxCaptionLength, samplesPerImage: k });
        expect(drawn.sampled.map((c) => Array.from(c.ids))).toEqual(whole.map((h) => h.tokens));
        expect(drawn.sampled.map((c) => c.imageRow)).toEqual(rows.flatMap((row) => Array<number>(k).fill(row)));
        expect(new Set(whole.map((h) => h.tokens.join(' '))).size).toBeGreaterThan(k); // they differ: a wrong numbering would show
      } finally {
        features.dispose();
        reference.dispose();
        scst.dispose();
        await engine.close();
      }
    },
  );

  it('samples train in micro-batches of at most SCST_MICRO_BATCH_CAPTIONS, fewer when --batch-size is smaller', () => {
    expect(SCST_MICRO_BATCH_CAPTIONS).toBe(64);
    expect(scstMicroBatch(128)).toBe(64);
    expect(scstMicroBatch(64)).toBe(64);
    expect(scstMicroBatch(20)).toBe(20);
  });

  it("baseline 'mean': a sample's advantage is its reward minus the mean of its image's other samples", () => {
    const adv = meanBaselineAdvantages([1, 2, 3, 6, 0.5, 0.5], 3);
    const expected = [1 - 2.5, 2 - 2, 3 - 1.5, 6 - 0.5, 0.5 - 3.25, 0.5 - 3.25];
    adv.forEach((a, i) => expect(a).toBeCloseTo(expected[i], 12));
  });

  const cases = ENGINES.flatMap((e) => (['merge', 'attention', 'transformer'] as const).map((decoder) => ({ ...e, decoder })));
  it.each(cases)('$decoder, $name: one step raises the log-probability of the best-rewarded sample and lowers the worst one', async (e) => {
    const spec: DecoderSpec = DECODERS[e.decoder];
    const on = e.decoder === 'merge' ? data : spatial;
    const sizes = spec.sizesFor(
      { vocabSize: on.vocab.tokens.length, featureShape: on.encoder.featureShape, dropout: 0, maxLength: on.prepare.maxCaptionLength + 2 },
      { embeddingSize: 8, hiddenSize: 16, attentionSize: 6, projectionSize: 6, width: 16, heads: 2, ffnSize: 16 },
    );
    const engine = await startTrainingEngine({
      choice: e.choice,
      backend,
      spec,
      sizes,
      initialWeights: spec.initialWeights(sizes, 5),
      adam: { learningRate: 0.003, clipNorm: 0 },
      data: on,
      batchSize: 64,
      labelSmoothing: 0,
      replicas: e.replicas,
    });
    const scst = startScst({ engine, data: on, spec, sizes, samples: 8, baseline: 'mean' });
    try {
      const drawn = await scst.draw([0], 3);
      const best = drawn.advantages.indexOf(Math.max(...drawn.advantages));
      const worst = drawn.advantages.indexOf(Math.min(...drawn.advantages));
      expect(drawn.advantages[best]).toBeGreaterThan(0.1);
      expect(drawn.advantages[worst]).toBeLessThan(-0.1);
      const before = engine.weights();
      const snapshot = Object.fromEntries(Object.entries(before).map(([n, w]) => [n, Float32Array.from(w)]));
      const logP = (w: Record<string, Float32Array>, i: number) => logProbOf({ spec, sizes, data: on }, w, drawn.sampled[i]);
      const [bestBefore, worstBefore] = [await logP(snapshot, best), await logP(snapshot, worst)];
      await scst.train(drawn, 3);
      const after = engine.weights();
      expect(await logP(after, best)).toBeGreaterThan(bestBefore);
      expect(await logP(after, worst)).toBeLessThan(worstBefore);
    } finally {
      scst.dispose();
      await engine.close();
    }
  });
});
