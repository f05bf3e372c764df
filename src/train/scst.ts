// Self-critical sequence training (Rennie et al. 2017, `train --objective scst`): per step, for each
// image of the batch (one per image, not per caption), K captions sampled from the model as it is now
// (src/decode/sample.ts, through the shared StepDecoder interface), each rewarded with its CIDEr-D
// against the image's training references; advantage = reward - baseline (the mean reward of the
// image's other samples, or the reward of its greedy caption); then one training step of the engine
// on the samples as teacher-forced targets, each with weight = its advantage. The one loss
// (src/train/objective.ts: weights multiply each caption's word terms, the sum divided by the step's
// scored words) then is
//   loss = -(1/N) sum over samples s of (r_s - b_s) log p(s),  N = the samples' words (end tokens included),
// the normalisation of ruotianluo/ImageCaptioning.pytorch's RewardCriterion (a mean over words).
// Label smoothing is off (the term must be -log p) and so is dropout (the samples are drawn from the
// model without dropout: the gradient is that of the distribution sampled from); p is the model's
// distribution renormalised over the words sampling allows, the one the samples were drawn from
// (sampled: true; src/train/objective.ts says why).
// The reward's convention: the end token counts as a word ('<end>' appended to every sample and every
// reference), so a caption that stops mid-phrase loses the n-grams that end a reference; document
// frequencies are the training split's, counted once.
import * as tf from '@tensorflow/tfjs';
import { greedySearch } from '../decode/greedy.js';
import { NonFiniteDistributionError, sampleSearch } from '../decode/sample.js';
import { DEFAULT_DECODE_OPTIONS, type Hypothesis } from '../decode/types.js';
import { ciderD, CiderDScorer } from '../evaluate/metrics/cider.js';
import type { BaseSizes, DecoderSpec, Weights } from '../model/decoder.js';
import { TfjsDecoder } from '../engine/tfjs-decoder.js';
import { OnnxStepDecoder } from '../engine/onnx/step-decoder.js';
import { syncSessionUnavailableReason } from '../engine/onnx/sync-session.js';
import type { StepDecoder } from '../model/step-decoder.js';
import { warn } from '../log.js';
import type { ScstBaseline } from './config.js';
import type { Example, TrainingData } from './data.js';
import { batchRows, type FeatureRowReader } from './feature-store.js';
import type { StepResult } from './replicas.js';
import type { TrainingEngine } from './step.js';

/**
 * Captions the sampling decoder runs at once: a step's images are drawn in parts of
 * floor(SCST_DRAW_ROWS / K) images (at least one). ONNX Runtime keeps each decoding graph's memory
 * arena as large as the largest run it made: on a Flickr8k attention run, parts of 160 rows instead of
 * one call of 640 (128 images x 5) lowered the peak RSS of the first 8 steps from 2.63 to 2.45 GB (of
 * 14 steps, 3.40 to 2.54 GB) at 3-5% of the time (bench/README.md, self-critical training).
 */
export const SCST_DRAW_ROWS = 160;

/**
 * The most sampled captions one training graph run takes (fewer when --batch-size is smaller): a step's
 * K x images samples train as micro-batches of this many, their gradients summed (the step's result
 * is that of one batch). ONNX Runtime keeps a memory arena per caption length it trains often, and the
 * samples spread over two lengths (8 and 16 steps) where cross-entropy's captions fill one; 64
 * instead of 128 lowered the peak RSS of 12 steps of a Flickr8k attention run from 2.52 to 2.29 GB
 * for ~4% of the time (bench/README.md, self-critical training).
 */
export const SCST_MICRO_BATCH_CAPTIONS = 64;

/** Captions per training micro-batch of a self-critical run with --batch-size `batchSize`. */
export function scstMicroBatch(batchSize: number): number {
  return Math.min(batchSize, SCST_MICRO_BATCH_CAPTIONS);
}

/** Images per part of a step's draws (SCST_DRAW_ROWS). */
export function drawPartImages(samplesPerImage: number): number {
  return Math.max(1, Math.floor(SCST_DRAW_ROWS / samplesPerImage));
}

/** The word the end token is in rewards: appended to samples and references alike. */
export const END_WORD = '<end>';

/** Reward-side words of a caption: its vocabulary words, then END_WORD. */
export function rewardWords(ids: ArrayLike<number>, tokens: readonly string[]): string[] {
  const words = Array.from(ids, (id) => tokens[id]);
  words.push(END_WORD);
  return words;
}

/** The images of `captions` (first appearance order) and each one's captions (indices into `captions`). */
export function captionsByImage(captions: readonly Example[]): { rows: number[]; captions: number[][] } {
  const at = new Map<number, number>();
  const rows: number[] = [];
  const groups: number[][] = [];
  captions.forEach((c, i) => {
    let k = at.get(c.imageRow);
    if (k === undefined) {
      k = rows.length;
      at.set(c.imageRow, k);
      rows.push(c.imageRow);
      groups.push([]);
    }
    groups[k].push(i);
  });
  return { rows, captions: groups };
}

/** Baseline 'mean': each sample's baseline is the mean reward of its image's other K - 1 samples. */
export function meanBaselineAdvantages(rewards: readonly number[], samplesPerImage: number): number[] {
  const k = samplesPerImage;
  const out: number[] = [];
  for (let first = 0; first < rewards.length; first += k) {
    let sum = 0;
    for (let i = 0; i < k; i++) sum += rewards[first + i];
    for (let i = 0; i < k; i++) out.push(rewards[first + i] - (sum - rewards[first + i]) / (k - 1));
  }
  return out;
}

/** One step's samples: K per image, in image order, each with its reward and its loss weight. */
export interface ScstDraw {
  sampled: Example[];
  rewards: number[];
  /** reward - baseline: the samples' loss weights. */
  advantages: number[];
}

export interface ScstStepResult extends StepResult {
  /** Sum of the samples' rewards, and how many there were. */
  rewardSum: number;
  samples: number;
}

export interface ScstOptions {
  engine: TrainingEngine;
  data: TrainingData;
  spec: DecoderSpec;
  sizes: BaseSizes;
  /** Samples per image (K). */
  samples: number;
  baseline: ScstBaseline;
}

/** What the training loop drives for `--objective scst` (src/train/loop.ts LoopObjective). */
export interface Scst {
  /** One per training image (its first caption): what an epoch plans its batches over. */
  examples: Example[];
  step(picks: number[], seed: number): Promise<ScstStepResult>;
  /** step = draw, then train (tests look in between). */
  draw(picks: number[], seed: number): Promise<ScstDraw>;
  train(drawn: ScstDraw, seed: number): Promise<ScstStepResult>;
  /** Dev CIDEr-D of greedy decoding (eval's default decoding), references as the vocabulary writes them. */
  devScore(): Promise<number | undefined>;
  /** The reward of each sampled caption of one image (tests): CIDEr-D against its training references. */
  reward(imageRow: number, ids: ArrayLike<number>): number;
  dispose(): void;
}

export function startScst(opts: ScstOptions): Scst {
  const { engine, data, samples: k } = opts;
  const tokens = data.vocab.tokens;
  const maxLength = data.prepare.maxCaptionLength;
  const featureShape = data.encoder.featureShape;
  const byImage = captionsByImage(data.train);
  const examples = byImage.captions.map((group) => data.train[group[0]]);
  const groupOfRow = new Map(byImage.rows.map((row, g) => [row, g]));
  const referencesOf = (row: number) => byImage.captions[groupOfRow.get(row) as number].map((c) => rewardWords(data.train[c].ids, tokens));
  // Document frequencies over the training split's images, once (n-gram counts, not the captions, are kept).
  const scorer = new CiderDScorer(
    (function* () {
      for (const row of byImage.rows) yield referencesOf(row);
    })(),
  );
  // The sampling decoder, on the training engine's side: on onnx, ONNX Runtime sessions that read the
  // weights as inputs (the optimizer's host arrays, not copied); on tfjs, a TfjsDecoder the weights are
  // copied into before each step's draws.
  const decoder = samplingDecoder(opts);
  const featureSize = data.featureSize;

  /** These rows' features as one float32 tensor [rows, ...featureShape] (the caller disposes it). */
  const featureTensor = (reader: FeatureRowReader, rows: readonly number[]): tf.Tensor => {
    const flat = new Float32Array(rows.length * featureSize);
    rows.forEach((row, b) => reader.copyRow(row, flat, b * featureSize));
    return tf.tensor(flat, [rows.length, ...featureShape], 'float32');
  };
  const reward = (row: number, ids: ArrayLike<number>) => scorer.score(rewardWords(ids, tokens), referencesOf(row));

  const draw = async (picks: number[], seed: number): Promise<ScstDraw> => {
    const rows = picks.map((p) => examples[p].imageRow);
    const reader = await data.features.rows(batchRows(examples, picks));
    decoder.setWeights(engine.weights());
    const drawn: Hypothesis[] = [];
    const greedyRewards: number[] = [];
    // In parts of whole images (drawPartImages), each part's captions numbered on from the last
    // part's: the captions of one call over the whole step.
    const partImages = drawPartImages(k);
    for (let first = 0; first < picks.length; first += partImages) {
      const part = rows.slice(first, first + partImages);
      const features = featureTensor(reader, part);
      try {
        // K per image, image by image; each image's initial state is computed once
        drawn.push(...sampleSearch(decoder, features, { seed, maxLength, samplesPerImage: k, firstCaption: first * k }));
        if (opts.baseline === 'greedy')
          greedySearch(decoder, features, { maxLength }).forEach((h, b) => greedyRewards.push(reward(part[b], h.tokens)));
      } finally {
        features.dispose();
      }
    }
    const sampled: Example[] = drawn.map((h, i) => ({ imageRow: rows[Math.floor(i / k)], ids: Int32Array.from(h.tokens) }));
    const rewards = sampled.map((e) => reward(e.imageRow, e.ids));
    const advantages =
      opts.baseline === 'greedy' ? rewards.map((r, i) => r - greedyRewards[Math.floor(i / k)]) : meanBaselineAdvantages(rewards, k);
    return { sampled, rewards, advantages };
  };
  const train = async (drawn: ScstDraw, seed: number): Promise<ScstStepResult> => {
    const { sampled, rewards, advantages } = drawn;
    // In length order (a stable sort): the onnx engine's micro-batches then each run at about their
    // captions' own length instead of the longest sample's.
    const picks = sampled.map((_, i) => i).sort((a, b) => sampled[a].ids.length - sampled[b].ids.length);
    const r = await engine.step(picks, seed, { weights: picks.map((p) => advantages[p]), examples: sampled, sampled: true });
    return { ...r, rewardSum: rewards.reduce((a, b) => a + b, 0), samples: rewards.length };
  };

  return {
    examples,
    reward,
    draw,
    train,
    step: async (picks, seed) => {
      let drawn;
      try {
        drawn = await draw(picks, seed);
      } catch (e) {
        // Weights that make the distribution NaN: the loss is, too (the loop stops on it and says so).
        if (e instanceof NonFiniteDistributionError) return { loss: NaN, correct: 0, count: 0, rewardSum: 0, samples: 0 };
        throw e;
      }
      return train(drawn, seed);
    },
    async devScore() {
      if (!data.dev.length) return undefined;
      const dev = captionsByImage(data.dev);
      decoder.setWeights(engine.weights());
      const hypotheses: string[][] = [];
      // In parts of SCST_DRAW_ROWS images: the greedy graph's arena no larger than the sampling one's.
      for (let first = 0; first < dev.rows.length; first += SCST_DRAW_ROWS) {
        const rows = dev.rows.slice(first, first + SCST_DRAW_ROWS);
        const features = featureTensor(await data.features.rows(rows), rows);
        try {
          for (const h of greedySearch(decoder, features, { maxLength, blockNgrams: DEFAULT_DECODE_OPTIONS.blockNgrams }))
            hypotheses.push(h.tokens.map((id) => tokens[id]));
        } finally {
          features.dispose();
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      const references = dev.captions.map((group) => group.map((c) => Array.from(data.dev[c].ids, (id) => tokens[id])));
      return ciderD(references, hypotheses).score;
    },
    dispose: () => decoder.dispose(),
  };
}

/** The decoder that samples and decodes greedily during SCST: see startScst. */
function samplingDecoder(opts: ScstOptions): StepDecoder & { setWeights(w: Weights): void; dispose(): void } {
  if (opts.engine.name === 'onnx') {
    const onnx = OnnxStepDecoder.createWithWeightInputs(opts.spec, opts.sizes);
    if (onnx) return onnx;
    // The training step runs on ONNX Runtime but its synchronous sessions (what decoding steps need) do
    // not open here: say so, then sample on tfjs (slower, the same captions).
    warn(`train: sampling on tfjs: ${syncSessionUnavailableReason() ?? 'ONNX Runtime decoding sessions did not open'}`);
  }
  return new TfjsDecoder(opts.spec, opts.sizes, opts.engine.weights());
}
