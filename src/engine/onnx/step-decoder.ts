// Captioning on ONNX Runtime: a trained decoder's init/step graphs (decode-graphs.ts) behind the
// StepDecoder interface that greedy and beam search use, so search code is the same on every
// engine. Greedy and beam search run through startSearch: a step graph with the top-k inside it, so
// per step only each row's few candidates and the changed state cross into JavaScript, and the state
// stays as ONNX Runtime's host arrays (no tfjs tensors in between). `step` (tfjs tensors in and out)
// serves callers that want the whole [B, V] log-probabilities. Sampling (src/decode/sample.ts) reads
// each step's whole distribution from a third step graph. A decoder made by createWithWeightInputs
// reads its weights as inputs, so one set of sessions follows weights that change (self-critical
// training samples from the weights being trained).
import * as tf from '@tensorflow/tfjs';
import { encodeOnnxModel, type OnnxModel } from './proto.js';
import { loadOnnxRuntime, type OnnxRuntime, type OrtTensor } from './runtime.js';
import type { AttentionRows } from '../../decode/attention.js';
import { checkedAttention } from '../../decode/attention.js';
import { candidateWidth, type RowTops } from '../../decode/candidates.js';
import type { SearchingDecoder, SearchStepRequest, SearchSteps } from '../../decode/search-steps.js';
import type { BaseSizes, DecoderSpec, Weights } from '../../model/decoder.js';
import type { StepDecoder } from '../../model/step-decoder.js';
import { SPECIAL_IDS } from '../../run/formats.js';
import { buildDecoderGraphs, WEIGHT_INPUT_PREFIX, type GraphWeights } from './decode-graphs.js';
import { SyncSession } from './sync-session.js';

/** A session and the weights it reads as inputs (none when they are baked in). */
class DecodeGraph {
  private constructor(
    readonly session: SyncSession,
    private readonly weightInputs: string[],
  ) {}

  static open(graph: OnnxModel): DecodeGraph | undefined {
    const session = SyncSession.open(encodeOnnxModel(graph));
    if (!session) return undefined;
    const names = graph.inputs.map((i) => i.name).filter((n) => n.startsWith(WEIGHT_INPUT_PREFIX));
    return new DecodeGraph(session, names);
  }

  run(feeds: Record<string, OrtTensor>, weights: Record<string, OrtTensor>): Record<string, OrtTensor> {
    for (const name of this.weightInputs) {
      const w = weights[name];
      if (!w) throw new Error(`onnx decoder: no weights set for '${name}' (call setWeights first)`);
      feeds[name] = w;
    }
    return this.session.run(feeds);
  }
}

export class OnnxStepDecoder implements StepDecoder, SearchingDecoder {
  readonly vocabSize: number;
  /** Weight feeds by input name, for graphs that read their weights as inputs (setWeights). */
  private weightFeeds: Record<string, OrtTensor> = {};
  private stepGraph: DecodeGraph | undefined;
  private sampleGraph: DecodeGraph | undefined;

  private constructor(
    private readonly ort: OnnxRuntime,
    private readonly weights: GraphWeights,
    private readonly init: DecodeGraph,
    private readonly stateCount: number,
    readonly spec: DecoderSpec,
    readonly sizes: BaseSizes,
    private readonly search: { graph: DecodeGraph; passthrough: boolean[] },
  ) {
    this.vocabSize = sizes.vocabSize;
  }

  /** The decoder on ONNX Runtime, or undefined when synchronous sessions are unavailable here. */
  static create(spec: DecoderSpec, sizes: BaseSizes, weights: Weights): OnnxStepDecoder | undefined {
    return OnnxStepDecoder.open(spec, sizes, weights);
  }

  /**
   * A decoder whose weights are inputs: one set of sessions decodes with whatever setWeights gave it
   * last (self-critical training samples from the weights being trained, step after step). Slower per
   * step than baked weights (no constant folding), far cheaper than new sessions per training step.
   */
  static createWithWeightInputs(spec: DecoderSpec, sizes: BaseSizes): OnnxStepDecoder | undefined {
    return OnnxStepDecoder.open(spec, sizes, 'inputs');
  }

  private static open(spec: DecoderSpec, sizes: BaseSizes, weights: GraphWeights): OnnxStepDecoder | undefined {
    const ort = loadOnnxRuntime();
    if (!ort) return undefined;
    const search = buildDecoderGraphs(spec, sizes, weights, { kind: 'search', endToken: SPECIAL_IDS.end });
    const init = DecodeGraph.open(search.init);
    const searchStep = init && DecodeGraph.open(search.step);
    if (!init || !searchStep) return undefined;
    return new OnnxStepDecoder(ort, weights, init, search.stateCount, spec, sizes, { graph: searchStep, passthrough: search.passthrough });
  }

  /** The weights the next runs read (a decoder made by createWithWeightInputs); the arrays are not copied. */
  setWeights(weights: Weights): void {
    if (this.weights !== 'inputs') throw new Error('onnx decoder: its weights are baked into its graphs');
    const feeds: Record<string, OrtTensor> = {};
    for (const [name, shape] of this.spec.weightShapes(this.sizes)) {
      if (!weights[name]) throw new Error(`${this.spec.architecture}: no weights for '${name}'`);
      feeds[`${WEIGHT_INPUT_PREFIX}${name}`] = new this.ort.Tensor('float32', weights[name], shape);
    }
    this.weightFeeds = feeds;
  }

  /** A step graph of another variant, built and opened on first use (search does not need them). */
  private variant(kind: 'export' | 'sample'): DecodeGraph {
    const graph = buildDecoderGraphs(this.spec, this.sizes, this.weights, { kind }).step;
    const opened = DecodeGraph.open(graph);
    if (!opened) throw new Error(`onnx step decoder: the ${kind} step graph did not open where the search graph did`);
    return opened;
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
    const out = this.init.run({ features: new this.ort.Tensor('float32', values, shape) }, this.weightFeeds);
    return Array.from({ length: this.stateCount }, (_, i) => out[`state_${i}`]);
  }

  initState(features: tf.Tensor): tf.Tensor[] {
    return this.initialStates(features).map((s) => OnnxStepDecoder.toTf(s));
  }

  startSearch(features: tf.Tensor): SearchSteps {
    const runSearch = (feeds: Record<string, OrtTensor>) => this.search.graph.run(feeds, this.weightFeeds);
    const runSample = (feeds: Record<string, OrtTensor>) => (this.sampleGraph ??= this.variant('sample')).run(feeds, this.weightFeeds);
    return new OrtSearchSteps(
      this.ort,
      { search: runSearch, sample: runSample },
      this.search.passthrough,
      this.vocabSize,
      this.initialStates(features),
    );
  }

  step(tokens: tf.Tensor1D, state: tf.Tensor[], position = 0): { logProbs: tf.Tensor2D; state: tf.Tensor[]; attention?: tf.Tensor2D } {
    const rows = tokens.shape[0];
    const feeds: Record<string, OrtTensor> = {
      tokens: new this.ort.Tensor('int32', Int32Array.from(tokens.dataSync()), [rows]),
      positions: new this.ort.Tensor('int32', new Int32Array(rows).fill(position), [rows]),
    };
    state.forEach((s, i) => (feeds[`state_${i}`] = this.toOrt(s)));
    this.stepGraph ??= this.variant('export');
    const out = this.stepGraph.run(feeds, this.weightFeeds);
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
    private readonly run: Record<'search' | 'sample', (feeds: Record<string, OrtTensor>) => Record<string, OrtTensor>>,
    private readonly passthrough: boolean[],
    private readonly vocabSize: number,
    private state: OrtTensor[],
  ) {}

  /** A step graph's feeds for the current rows; after the run, advance() keeps the changed states. */
  private feeds(tokens: Int32Array, position: number): Record<string, OrtTensor> {
    const rows = tokens.length;
    const feeds: Record<string, OrtTensor> = {
      tokens: new this.ort.Tensor('int32', tokens, [rows]),
      positions: new this.ort.Tensor('int32', new Int32Array(rows).fill(position), [rows]),
    };
    this.state.forEach((s, i) => (feeds[`state_${i}`] = s));
    return feeds;
  }

  private advance(out: Record<string, OrtTensor>): void {
    this.state = this.state.map((s, i) => (this.passthrough[i] ? s : out[`next_state_${i}`]));
  }

  distribution(tokens: Int32Array, position: number): Float32Array {
    const out = this.run.sample(this.feeds(tokens, position));
    this.advance(out);
    return out.probs.data as Float32Array;
  }

  step(tokens: Int32Array, position: number, request: SearchStepRequest): { tops: RowTops; attention?: AttentionRows } {
    const rows = tokens.length;
    const width = candidateWidth(request.count, this.vocabSize); // as readTopTokens: the same candidates on both engines
    const feeds = this.feeds(tokens, position);
    feeds.k = new this.ort.Tensor('int64', BigInt64Array.of(BigInt(width)), [1]);
    const out = this.run.search(feeds);
    this.advance(out);
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
