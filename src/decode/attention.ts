// Attention rows during search: read back from the decoder's step only when asked, checked against
// the [H, W] grid they will be drawn on. Decoders that do not attend return no attention at all.
import * as tf from '@tensorflow/tfjs';
import type { StepDecoder } from '../model/step-decoder.js';
import { SPECIAL_IDS } from '../run/formats.js';

/** One step's attention read back: row r of the batch is data[r*regions, (r+1)*regions). */
export interface AttentionRows {
  regions: number;
  data: Float32Array;
}

/**
 * The step's attention [rows, regions] -> host values, checked against the [H, W] grid they will be
 * drawn on. Throws when the decoder gave none, or a shape that is not [rows, H*W]. Disposes nothing:
 * the caller owns `attention`.
 */
export function readAttention(attention: tf.Tensor | undefined, rows: number, grid: [number, number]): AttentionRows {
  if (!attention) throw new Error('attention maps were asked for, but this decoder returns no attention from its step');
  return checkedAttention(attention.shape, attention.dataSync() as Float32Array, rows, grid);
}

/** Host attention values of shape `dims` as AttentionRows, after the same checks as readAttention. */
export function checkedAttention(dims: readonly number[], data: Float32Array, rows: number, grid: [number, number]): AttentionRows {
  const regions = grid[0] * grid[1];
  if (dims.length !== 2 || dims[0] !== rows || dims[1] !== regions) {
    throw new Error(`attention of shape [${dims.join(', ')}] does not fit ${rows} rows of a ${grid[0]}x${grid[1]} grid`);
  }
  return { regions, data };
}

/** Row r as a plain array (JSON-friendly; the step's buffer is not kept alive by it). */
export function attentionRow(a: AttentionRows, r: number): number[] {
  return Array.from(a.data.subarray(r * a.regions, (r + 1) * a.regions));
}

/**
 * How many regions a model attends over, found by running its first step on one all-zero image of
 * `featureShape`; undefined when its step returns no attention (e.g. the merge decoder). The
 * StepDecoder contract makes attention an optional output of the step, so asking the step is the
 * one test that holds for every decoder. One step on one image: negligible next to any decoding.
 */
export function attentionRegions(model: StepDecoder, featureShape: number[]): number | undefined {
  return tf.tidy(() => {
    const features = tf.zeros([1, ...featureShape]);
    const state = model.initState(features);
    const out = model.step(tf.tensor1d([SPECIAL_IDS.start], 'int32'), state, 0);
    return out.attention ? (out.attention.shape[1] as number) : undefined;
  });
}

/**
 * The [H, W] grid a trained model's attention maps are drawn on: the encoder's spatial feature
 * shape [H, W, C], checked against the regions the model attends over. A reason instead when the
 * model has no maps (its decoder does not attend, or the features were pooled).
 */
export function attentionGridOf(opts: {
  architecture: string;
  featureShape: number[];
  encoderFeatureShape: number[];
  model: StepDecoder;
}): { grid: [number, number] } | { reason: string } {
  const regions = attentionRegions(opts.model, opts.featureShape);
  if (regions === undefined)
    return { reason: `the ${opts.architecture} decoder does not attend to image regions, so it has no attention maps` };
  const [h, w, c] = opts.encoderFeatureShape;
  if (c === undefined || opts.encoderFeatureShape.length !== 3)
    return {
      reason: `the ${opts.architecture} decoder attends, but its encoder's features [${opts.encoderFeatureShape.join(', ')}] have no [H, W, C] grid`,
    };
  if (h * w !== regions)
    return { reason: `the ${opts.architecture} decoder attends over ${regions} regions, but its encoder's grid is ${h}x${w}` };
  return { grid: [h, w] };
}
