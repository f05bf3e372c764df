// A trained decoder as two ONNX graphs for captioning, recorded from its DecoderSpec with GraphOps
// (no gradients), the weights baked in as initializers (or, for a decoder whose weights change while
// it decodes, as inputs `w:<name>`: self-critical training samples from the weights being trained):
//   init: features [B, ...featureShape] -> state_0..state_{k-1}
//   step: tokens [B] int32, positions [B] int32, state_0.. -> logProbs [B, V], next_state_0..,
//         attention [B, regions] for decoders that attend
// Batch size is dynamic; so is every state dimension that changes from step to step (a transformer's
// key/value cache grows by one position per step), so one step graph serves every position.
// Used by `capgen export --format onnx` and by ONNX Runtime decoding.
import type { OnnxModel } from './proto.js';
import type { BaseSizes, DecoderSpec, Weights } from '../../model/decoder.js';
import type { Shape } from '../../model/ops.js';
import { DECODER_OPSET, GraphOps, type Sym } from './graph-ops.js';

export interface DecoderGraphs {
  init: OnnxModel;
  step: OnnxModel;
  /** Number of state tensors (state_i in, next_state_i out: the names of src/export/manifest.ts). */
  stateCount: number;
  /** Whether the step graph has an `attention` output. */
  attention: boolean;
  /** Per state: unchanged by a step (in the search variant, not among the step's outputs). */
  passthrough: boolean[];
}

/**
 * Where a decoding graph's weights come from: baked in (a Weights record), or 'inputs': one graph input
 * `w:<name>` per weight the graph reads, fed at every run (WEIGHT_INPUT_PREFIX).
 */
export type GraphWeights = Weights | 'inputs';

/** Graph input name prefix of weights fed at run time (the training graphs' convention too). */
export const WEIGHT_INPUT_PREFIX = 'w:';

/** The weights, each made (initializer or input) when the graph first reads it (so none is unused). */
function constants<S extends BaseSizes>(g: GraphOps, spec: DecoderSpec<S>, sizes: S, weights: GraphWeights): Record<string, Sym> {
  const shapes = new Map(spec.weightShapes(sizes));
  const made = new Map<string, Sym>();
  return new Proxy({} as Record<string, Sym>, {
    get(_, name) {
      if (typeof name !== 'string' || !shapes.has(name)) return undefined;
      let s = made.get(name);
      if (!s) {
        const shape = shapes.get(name) as number[];
        s = weights === 'inputs' ? g.input(`${WEIGHT_INPUT_PREFIX}${name}`, shape) : g.constant(weights[name], shape);
        made.set(name, s);
      }
      return s;
    },
  });
}

function model(g: GraphOps, graphName: string): OnnxModel {
  return { opset: DECODER_OPSET, graphName, nodes: g.nodes, initializers: g.initializers, inputs: g.inputs, outputs: g.outputs };
}

/**
 * What a step graph returns. 'export': logProbs [B, V] and every next state (the contract of
 * `capgen export`). 'search': what greedy and beam search read, so that the [B, V] log-probabilities
 * never leave ONNX Runtime: the top `k` log-probabilities of each row with their int32 ids (`k` an
 * int64 [1] input), the end token's log-probability per row (`endLogProbs` [B]), and only the states
 * the step changes (an image's regions pass through unchanged and stay with the caller). 'sample':
 * the whole next-word distribution as probabilities (`probs` [B, V], what sampling draws from: a pass
 * over V without exp() in JavaScript) and the changed states, no attention.
 */
export type StepVariant = { kind: 'export' } | { kind: 'search'; endToken: number } | { kind: 'sample' };

interface RecordedStep {
  graph: OnnxModel;
  outShapes: Shape[];
  attention: boolean;
  /** Per state: the step returns its input unchanged (the search variant then has no output for it). */
  passthrough: boolean[];
}

/** Records one step with state inputs of the given shapes; returns the graph and its state output shapes. */
function recordStep<S extends BaseSizes>(
  spec: DecoderSpec<S>,
  sizes: S,
  weights: GraphWeights,
  stateShapes: Shape[],
  variant: StepVariant,
): RecordedStep {
  const g = new GraphOps();
  const w = constants(g, spec, sizes, weights);
  const tokens = g.input('tokens', [-1], { type: 'int32' });
  const positions = g.input('positions', [-1], { type: 'int32' });
  const state = stateShapes.map((shape, i) => g.input(`state_${i}`, shape));
  const out = spec.step(g, w, { tokens, positions, state, position: 0 }, sizes);
  const passthrough = out.state.map((s, i) => s === state[i]);
  if (variant.kind === 'export') {
    g.output('logProbs', out.logProbs);
    out.state.forEach((s, i) => g.output(`next_state_${i}`, s));
  } else if (variant.kind === 'sample') {
    g.output('probs', g.raw('Exp', [out.logProbs], out.logProbs.shape));
    out.state.forEach((s, i) => passthrough[i] || g.output(`next_state_${i}`, s));
  } else {
    const top = g.topK(out.logProbs, g.input('k', [1], { type: 'int64' }));
    g.output('topLogProbs', top.values);
    g.output('topTokens', top.indices);
    const end = g.raw('Gather', [out.logProbs, g.int64s([variant.endToken])], [-1], { attributes: { axis: 1 } });
    g.output('endLogProbs', end);
    out.state.forEach((s, i) => passthrough[i] || g.output(`next_state_${i}`, s));
  }
  if (out.attention && variant.kind !== 'sample') g.output('attention', out.attention);
  const graphName = `${spec.architecture}_${variant.kind === 'export' ? 'step' : `${variant.kind}_step`}`;
  return { graph: model(g, graphName), outShapes: out.state.map((s) => s.shape), attention: out.attention !== undefined, passthrough };
}

/** The init graph and the step graph (export variant unless `variant` says otherwise). */
export function buildDecoderGraphs<S extends BaseSizes>(
  spec: DecoderSpec<S>,
  sizes: S,
  weights: GraphWeights,
  variant: StepVariant = { kind: 'export' },
): DecoderGraphs {
  const g = new GraphOps();
  const w = constants(g, spec, sizes, weights);
  const features = g.input('features', [-1, ...spec.featureShape(sizes)]);
  const state = spec.initState(g, w, features, sizes);
  state.forEach((s, i) => g.output(`state_${i}`, s));
  const init = model(g, `${spec.architecture}_init`);

  // Dimensions that a step changes (a growing cache) become dynamic; then record the step for good.
  let shapes: Shape[] = state.map((s) => s.shape);
  const first = recordStep(spec, sizes, weights, shapes, variant);
  shapes = shapes.map((shape, i) => shape.map((d, j) => (first.outShapes[i][j] === d ? d : -1)));
  const step = shapes.some((s, i) => s.some((d, j) => d !== state[i].shape[j])) ? recordStep(spec, sizes, weights, shapes, variant) : first;
  return { init, step: step.graph, stateCount: state.length, attention: step.attention, passthrough: step.passthrough };
}
