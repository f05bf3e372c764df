// Captioning on ONNX Runtime: a trained decoder's init/step graphs (decode-graphs.ts) behind the
// StepDecoder interface that greedy and beam search use, so search code is the same on every
// engine. Greedy and beam search run through startSearch: a step graph with the top-k inside it, so
// per step only each row's few candidates and the changed state cross into JavaScript, and the state
// stays as ONNX Runtime's host arrays (no tfjs tensors in between). `step` (tfjs tensors in and out)
// serves callers that want the whole [B, V] log-probabilities.
import * as tf from '@tensorflow/tfjs';
import { encodeOnnxModel } from './proto.js';
import { loadOnnxRuntime, type OnnxRuntime, type OrtTensor } from './runtime.js';
import type { AttentionRows } from '../../decode/attention.js';
import { checkedAttention } from '../../decode/attention.js';
import { candidateWidth, type RowTops } from '../../decode/candidates.js';
import type { SearchingDecoder, SearchStepRequest, SearchSteps } from '../../decode/search-steps.js';
import type { BaseSizes, DecoderSpec, Weights } from '../../model/decoder.js';
import type { StepDecoder } from '../../model/step-decoder.js';
import { SPECIAL_IDS } from '../../run/formats.js';
import { buildDecoderGraphs } from './decode-graphs.js';
import { SyncSession } from './sync-session.js';

export class OnnxStepDecoder implements StepDecoder, SearchingDecoder {
  readonly vocabSize: number;
  private constructor(
    private readonly ort: OnnxRuntime,
    private readonly init: SyncSession,
    /** The export step graph (whole log-probabilities), opened on the first `step` call: search does not use it. */
    private readonly stepGraph: Uint8Array,
    private readonly stateCount: number,
    readonly spec: DecoderSpec,
    readonly sizes: BaseSizes,
    private readonly search: { session: SyncSession; passthrough: boolean[] },
  ) {
    this.vocabSize = sizes.vocabSize;
  }

  private stepSession: SyncSession | undefined;

  /** The decoder on ONNX Runtime, or undefined when synchronous sessions are unavailable here. */
  static create(spec: DecoderSpec, sizes: BaseSizes, weights: Weights): OnnxStepDecoder | undefined {
    const ort = loadOnnxRuntime();
    if (!ort) return undefined;
    const graphs = buildDecoderGraphs(spec, sizes, weights);
    const search = buildDecoderGraphs(spec, sizes, weights, { kind: 'search', endToken: SPECIAL_IDS.end });
    const init = SyncSession.open(encodeOnnxModel(graphs.init));
    const searchStep = init && SyncSession.open(encodeOnnxModel(search.step));
    if (!init || !searchStep) return undefined;
    return new OnnxStepDecoder(ort, init, encodeOnnxModel(graphs.step), graphs.stateCount, spec, sizes, {
      session: searchStep,
      passthrough: search.passthrough,
    });
  }

  private toOrt(t: tf.Tensor): OrtTensor {
    return t.dtype === 'int32'
      ? new this.ort.Tensor('int32', t.dataSync() as Int32Array, t.shape)
      : new this.ort.Tensor('float32', t.dataSync() as Float32Array, t.shape);
  }

  private static toTf(t: OrtTensor): tf.Tensor {
    return tf.tensor(t.data as Float32Array, [...t.dims], 'float32');
  }

  /** The init graph's states for features [B, ...] (search code may hold spatial features flat). */
  private initialStates(features: tf.Tensor): OrtTensor[] {
    const shape = [features.shape[0], ...this.spec.featureShape(this.sizes)];
    const float = features.dtype === 'float32' ? features : features.toFloat();
    const values = float.dataSync() as Float32Array;
    if (float !== features) float.dispose();
    const out = this.init.run({ features: new this.ort.Tensor('float32', values, shape) });
    return Array.from({ length: this.stateCount }, (_, i) => out[`state_${i}`]);
  }

  initState(features: tf.Tensor): tf.Tensor[] {
    return this.initialStates(features).map((s) => OnnxStepDecoder.toTf(s));
  }

  startSearch(features: tf.Tensor): SearchSteps {
    return new OrtSearchSteps(this.ort, this.search.session, this.search.passthrough, this.vocabSize, this.initialStates(features));
  }

  step(tokens: tf.Tensor1D, state: tf.Tensor[], position = 0): { logProbs: tf.Tensor2D; state: tf.Tensor[]; attention?: tf.Tensor2D } {
    const rows = tokens.shape[0];
    const feeds: Record<string, OrtTensor> = {
      tokens: new this.ort.Tensor('int32', Int32Array.from(tokens.dataSync()), [rows]),
      positions: new this.ort.Tensor('int32', new Int32Array(rows).fill(position), [rows]),
    };
    state.forEach((s, i) => (feeds[`state_${i}`] = this.toOrt(s)));
    this.stepSession ??= SyncSession.open(this.stepGraph);
    if (!this.stepSession) throw new Error('onnx step decoder: the step graph did not open where the search graph did');
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

/** Search steps on the search step graph: the state is ONNX Runtime's host arrays, rows picked in JS. */
class OrtSearchSteps implements SearchSteps {
  constructor(
    private readonly ort: OnnxRuntime,
    private readonly session: SyncSession,
    private readonly passthrough: boolean[],
    private readonly vocabSize: number,
    private state: OrtTensor[],
  ) {}

  step(tokens: Int32Array, position: number, request: SearchStepRequest): { tops: RowTops; attention?: AttentionRows } {
    const rows = tokens.length;
    const width = candidateWidth(request.count, this.vocabSize); // as readTopTokens: the same candidates on both engines
    const feeds: Record<string, OrtTensor> = {
      tokens: new this.ort.Tensor('int32', tokens, [rows]),
      positions: new this.ort.Tensor('int32', new Int32Array(rows).fill(position), [rows]),
      k: new this.ort.Tensor('int64', BigInt64Array.of(BigInt(width)), [1]),
    };
    this.state.forEach((s, i) => (feeds[`state_${i}`] = s));
    const out = this.session.run(feeds);
    this.state = this.state.map((s, i) => (this.passthrough[i] ? s : out[`next_state_${i}`]));
    const tops: RowTops = request.endOnly
      ? { width: 1, ids: new Int32Array(rows).fill(SPECIAL_IDS.end), logProbs: out.endLogProbs.data as Float32Array }
      : { width, ids: out.topTokens.data as Int32Array, logProbs: out.topLogProbs.data as Float32Array };
    if (!request.attentionGrid) return { tops };
    if (!out.attention) throw new Error('attention maps were asked for, but this decoder returns no attention from its step');
    return { tops, attention: checkedAttention(out.attention.dims, out.attention.data as Float32Array, rows, request.attentionGrid) };
  }

  select(rows: Int32Array): void {
    this.state = this.state.map((s) => {
      const [count, ...rest] = s.dims;
      if (rows.length === count && rows.every((r, i) => r === i)) return s;
      const size = rest.reduce((a, d) => a * d, 1);
      const from = s.data as Float32Array;
      const to = new Float32Array(rows.length * size);
      rows.forEach((r, i) => to.set(from.subarray(r * size, (r + 1) * size), i * size));
      return new this.ort.Tensor('float32', to, [rows.length, ...rest]);
    });
  }

  dispose(): void {
    this.state = [];
  }
}
