// What greedy and beam search ask of a decoder, step by step, with every value on the host: the
// search keeps words, scores and row bookkeeping; the decoder keeps its state wherever its engine
// wants it (tfjs tensors, or ONNX Runtime's arrays) and only hands back each row's top candidates.
// `startSearch` picks the decoder's own implementation (OnnxStepDecoder keeps the [rows, vocab]
// log-probabilities inside ONNX Runtime) or runs any StepDecoder through tfjs.
import * as tf from '@tensorflow/tfjs';
import type { StepDecoder } from '../model/step-decoder.js';
import { readAttention, type AttentionRows } from './attention.js';
import { readTopTokens, type RowTops } from './candidates.js';

export interface SearchStepRequest {
  /** Allowed candidates wanted per row (1 greedy, the beam size in beam search). */
  count: number;
  /** The caption is at its last word: only the end token may follow. */
  endOnly: boolean;
  /** Read the step's attention, laid out on this [H, W] grid (throws when the decoder has none). */
  attentionGrid?: [number, number];
}

export interface SearchSteps {
  /** One step for the current rows: tokens [rows] (the previous words) at 0-based `position`. */
  step(tokens: Int32Array, position: number, request: SearchStepRequest): { tops: RowTops; attention?: AttentionRows };
  /** One step as `step`, returning every row's whole next-word distribution: probabilities [rows * V]. */
  distribution(tokens: Int32Array, position: number): Float32Array;
  /** The next step continues row rows[i] of this step's state in row i (dropped and repeated rows alike). */
  select(rows: Int32Array): void;
  /** Frees the state; the search is over. */
  dispose(): void;
}

/** A decoder that runs searches its own way (without tfjs tensors in between). */
export interface SearchingDecoder {
  /** features [B, ...featureShape]; the caller keeps ownership of them. */
  startSearch(features: tf.Tensor): SearchSteps;
}

const searchesItself = (model: StepDecoder): model is StepDecoder & SearchingDecoder =>
  typeof (model as Partial<SearchingDecoder>).startSearch === 'function';

/** The decoder's own search steps when it has them, else its StepDecoder steps on tfjs. */
export function startSearch(model: StepDecoder, features: tf.Tensor): SearchSteps {
  return searchesItself(model) ? model.startSearch(features) : new TensorSearchSteps(model, features);
}

/** Any StepDecoder's steps on tfjs: state as tensors, one top-k per step read back. */
class TensorSearchSteps implements SearchSteps {
  private state: tf.Tensor[];

  constructor(
    private readonly model: StepDecoder,
    features: tf.Tensor,
  ) {
    this.state = model.initState(features);
  }

  /** One model step; the new state is owned here from then on, whatever the caller's reading throws. */
  private advance(tokens: Int32Array, position: number): { logProbs: tf.Tensor2D; attention?: tf.Tensor2D } {
    const out = tf.tidy(() => this.model.step(tf.tensor1d(tokens, 'int32'), this.state, position));
    tf.dispose(this.state);
    this.state = out.state;
    return out;
  }

  distribution(tokens: Int32Array, position: number): Float32Array {
    const out = this.advance(tokens, position);
    try {
      return tf.tidy(() => tf.exp(out.logProbs).dataSync() as Float32Array);
    } finally {
      tf.dispose([out.logProbs, ...(out.attention ? [out.attention] : [])]);
    }
  }

  step(tokens: Int32Array, position: number, request: SearchStepRequest): { tops: RowTops; attention?: AttentionRows } {
    const out = this.advance(tokens, position);
    try {
      const tops = readTopTokens(out.logProbs, request.count, request.endOnly);
      const attention = request.attentionGrid && readAttention(out.attention, tokens.length, request.attentionGrid);
      return { tops, ...(attention ? { attention } : {}) };
    } finally {
      // attending decoders compute attention whether or not it is kept
      tf.dispose([out.logProbs, ...(out.attention ? [out.attention] : [])]);
    }
  }

  select(rows: Int32Array): void {
    const all = this.state;
    this.state = tf.tidy(() => {
      const picks = tf.tensor1d(rows, 'int32');
      return all.map((s) => tf.gather(s, picks));
    });
    tf.dispose(all);
  }

  dispose(): void {
    tf.dispose(this.state);
    this.state = [];
  }
}
