// Captioning on ONNX Runtime: a trained decoder's init/step graphs (decode-graphs.ts) behind the
// StepDecoder interface that greedy and beam search use, so search code is the same on every
// engine. Tensors cross between tfjs (what search holds) and ONNX Runtime as host arrays: on WASM
// and cpu both live in host memory, and per step that is the state and one [B, V] row block.
import * as tf from '@tensorflow/tfjs';
import { encodeOnnxModel } from '../../features/onnx/proto.js';
import { loadOnnxRuntime, type OnnxRuntime, type OrtTensor } from '../../features/onnx/runtime.js';
import type { BaseSizes, DecoderSpec, Weights } from '../../model/decoder.js';
import type { StepDecoder } from '../../model/step-decoder.js';
import { buildDecoderGraphs } from './decode-graphs.js';
import { SyncSession } from './sync-session.js';

export class OnnxStepDecoder implements StepDecoder {
  readonly vocabSize: number;
  private constructor(
    private readonly ort: OnnxRuntime,
    private readonly init: SyncSession,
    private readonly stepSession: SyncSession,
    private readonly stateCount: number,
    readonly spec: DecoderSpec,
    readonly sizes: BaseSizes,
  ) {
    this.vocabSize = sizes.vocabSize;
  }

  /** The decoder on ONNX Runtime, or undefined when synchronous sessions are unavailable here. */
  static create(spec: DecoderSpec, sizes: BaseSizes, weights: Weights): OnnxStepDecoder | undefined {
    const ort = loadOnnxRuntime();
    if (!ort) return undefined;
    const graphs = buildDecoderGraphs(spec, sizes, weights);
    const init = SyncSession.open(encodeOnnxModel(graphs.init));
    const step = init && SyncSession.open(encodeOnnxModel(graphs.step));
    if (!init || !step) return undefined;
    return new OnnxStepDecoder(ort, init, step, graphs.stateCount, spec, sizes);
  }

  private toOrt(t: tf.Tensor): OrtTensor {
    return t.dtype === 'int32'
      ? new this.ort.Tensor('int32', t.dataSync() as Int32Array, t.shape)
      : new this.ort.Tensor('float32', t.dataSync() as Float32Array, t.shape);
  }

  private static toTf(t: OrtTensor): tf.Tensor {
    return tf.tensor(t.data as Float32Array, [...t.dims], 'float32');
  }

  initState(features: tf.Tensor): tf.Tensor[] {
    // Search code may hold spatial features flat ([B, H*W*C]); the init graph's input is [B, ...featureShape].
    const shape = [features.shape[0], ...this.spec.featureShape(this.sizes)];
    const float = features.dtype === 'float32' ? features : features.toFloat();
    const values = float.dataSync() as Float32Array;
    if (float !== features) float.dispose();
    const out = this.init.run({ features: new this.ort.Tensor('float32', values, shape) });
    return Array.from({ length: this.stateCount }, (_, i) => OnnxStepDecoder.toTf(out[`state_${i}`]));
  }

  step(tokens: tf.Tensor1D, state: tf.Tensor[], position = 0): { logProbs: tf.Tensor2D; state: tf.Tensor[]; attention?: tf.Tensor2D } {
    const rows = tokens.shape[0];
    const feeds: Record<string, OrtTensor> = {
      tokens: new this.ort.Tensor('int32', Int32Array.from(tokens.dataSync()), [rows]),
      positions: new this.ort.Tensor('int32', new Int32Array(rows).fill(position), [rows]),
    };
    state.forEach((s, i) => (feeds[`state_${i}`] = this.toOrt(s)));
    const out = this.stepSession.run(feeds);
    return {
      logProbs: OnnxStepDecoder.toTf(out.logProbs) as tf.Tensor2D,
      state: Array.from({ length: this.stateCount }, (_, i) => OnnxStepDecoder.toTf(out[`next_state_${i}`])),
      attention: out.attention ? (OnnxStepDecoder.toTf(out.attention) as tf.Tensor2D) : undefined,
    };
  }

  dispose(): void {
    // Native sessions are freed with their JS wrappers; nothing on the tfjs backend.
  }
}
