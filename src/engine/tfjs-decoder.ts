// A decoder (any DecoderSpec) with its weights as tfjs variables: teacher-forced logits for the tfjs
// training engine, and StepDecoder for the search code (src/decode). Runs on any tfjs backend.
import * as tf from '@tensorflow/tfjs';
import { readInto, tensorFromHost } from '../backend/host-io.js';
import { hostBackend, TfjsOps } from './tfjs-ops.js';
import type { BaseSizes, DecoderSpec, TeacherForced, Weights } from '../model/decoder.js';
import { mergeLstm, type MergeLstmSizes } from '../model/merge-lstm.js';
import type { BatchTensors } from '../model/ops.js';
import type { StepDecoder } from '../model/step-decoder.js';

export class TfjsDecoder<S extends BaseSizes = BaseSizes> implements StepDecoder {
  readonly spec: DecoderSpec<S>;
  readonly sizes: S;
  readonly vocabSize: number;
  /** In the spec's weight order. */
  readonly variables: tf.Variable[];
  readonly weightNames: string[];
  private readonly w: Record<string, tf.Variable> = {};
  private readonly ops: TfjsOps;

  constructor(spec: DecoderSpec<S>, sizes: S, weights: Weights, opts: { fused?: boolean } = {}) {
    this.spec = spec;
    this.sizes = sizes;
    this.vocabSize = sizes.vocabSize;
    // The JS fast paths only where tensors live in host memory (WASM, cpu); native backends get ops only.
    this.ops = new TfjsOps({ fused: opts.fused ?? hostBackend() });
    const shapes = spec.weightShapes(sizes);
    this.weightNames = shapes.map(([n]) => n);
    for (const [name, shape] of shapes) {
      if (!weights[name]) throw new Error(`${spec.architecture}: no weights for '${name}'`);
      // tf.variable copies its initial value: free the temporary so load + dispose leaves nothing.
      const initial = tensorFromHost(weights[name], shape);
      this.w[name] = tf.variable(initial, true);
      initial.dispose();
    }
    this.variables = this.weightNames.map((n) => this.w[n]);
  }

  /** Teacher forcing: logits [N, vocab] at every scored position (+ the decoder's penalty, if any). */
  forward(batch: BatchTensors<tf.Tensor>, opts: { training: boolean }): TeacherForced<tf.Tensor> {
    return this.spec.teacherForced(this.ops, this.w, batch, { sizes: this.sizes, training: opts.training });
  }

  /** Teacher forcing, logits only. Returns [N, vocabSize]. */
  logits(batch: BatchTensors<tf.Tensor>, opts: { training: boolean }): tf.Tensor2D {
    return tf.tidy(() => this.forward(batch, opts).logits) as tf.Tensor2D;
  }

  initState(features: tf.Tensor): tf.Tensor[] {
    return tf.tidy(() => this.spec.initState(this.ops, this.w, features, this.sizes));
  }

  step(tokens: tf.Tensor1D, state: tf.Tensor[], position = 0): { logProbs: tf.Tensor2D; state: tf.Tensor[]; attention?: tf.Tensor2D } {
    return tf.tidy(() => {
      const positions = tf.fill([tokens.shape[0]], position, 'int32');
      const out = this.spec.step(
        this.ops,
        this.w,
        { tokens: tokens.dtype === 'int32' ? tokens : tokens.toInt(), positions, state, position },
        this.sizes,
      );
      // Callers dispose the old state: a tensor passed through unchanged must be a new handle.
      const next = out.state.map((s) => (state.includes(s) ? s.clone() : s));
      return { logProbs: out.logProbs as tf.Tensor2D, state: next, attention: out.attention as tf.Tensor2D | undefined };
    });
  }

  /** Current weights as plain arrays (reads the backend: not for the hot loop). */
  getWeights(): Weights {
    const out: Weights = {};
    for (const name of this.weightNames) {
      out[name] = new Float32Array(this.w[name].size);
      readInto(this.w[name], out[name]);
    }
    return out;
  }

  /** Copies `weights` in (the arrays stay the caller's). */
  setWeights(weights: Weights): void {
    for (const name of this.weightNames) tf.tidy(() => this.w[name].assign(tensorFromHost(weights[name], this.w[name].shape)));
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/**
 * The merge decoder on tfjs (kept under its old name for the code and tests that build one directly). It
 * lives here, not in merge-lstm.ts, so that the decoder registry (read by `train --help`) loads no tfjs.
 */
export class MergeLstm extends TfjsDecoder<MergeLstmSizes> {
  constructor(sizes: MergeLstmSizes, weights: Weights) {
    super(mergeLstm, sizes, weights);
  }
}
