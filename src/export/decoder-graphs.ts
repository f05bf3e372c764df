// A DecoderSpec's initState and step, recorded as two TensorFlow.js graph models (TfGraphOps): init
// (features [B, ...featureShape] -> state) and step (tokens [B] int32, positions [B] int32, state ->
// logProbs [B, V], next state, attention [B, regions] when the decoder attends). Generic: whatever a
// spec computes over Ops, with its checkpoint's weights as constants; no per-architecture code here.
import type { BaseSizes, DecoderSpec, Weights } from '../model/decoder.js';
import { decoderTensorNames } from './manifest.js';
import { TfGraphOps, type TfSym } from './tf-graph-ops.js';

/** model.json of a tfjs graph model + its one weights shard. */
export interface GraphModelFiles {
  modelJson: Record<string, unknown>;
  weightData: Uint8Array;
}

export const GRAPH_WEIGHTS_FILE = 'weights.bin';

export interface DecoderGraphs {
  init: GraphModelFiles;
  step: GraphModelFiles;
  names: ReturnType<typeof decoderTensorNames>;
  featureShape: number[];
}

/** The weights as graph constants named weights/NAME (apart from the inputs' names: a decoder may have a
 *  weight called 'positions'), each added on first use (so init holds only what init reads). */
function lazyWeights(ops: TfGraphOps, spec: DecoderSpec, sizes: BaseSizes, weights: Weights): Record<string, TfSym> {
  const w: Record<string, TfSym> = {};
  for (const [name, shape] of spec.weightShapes(sizes)) {
    let sym: TfSym | undefined;
    Object.defineProperty(w, name, { enumerable: true, get: () => (sym ??= ops.weight(`weights/${name}`, weights[name], shape)) });
  }
  return w;
}

function files(ops: TfGraphOps): GraphModelFiles {
  const bytes = ops.weights.reduce((n, w) => n + w.data.byteLength, 0);
  const weightData = new Uint8Array(bytes);
  let offset = 0;
  for (const w of ops.weights) {
    weightData.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength), offset);
    offset += w.data.byteLength;
  }
  return {
    modelJson: {
      format: 'graph-model',
      generatedBy: 'capgen',
      convertedBy: 'capgen export',
      modelTopology: { node: ops.nodes, library: {}, versions: {} },
      weightsManifest: [{ paths: [GRAPH_WEIGHTS_FILE], weights: ops.weights.map(({ name, shape, dtype }) => ({ name, shape, dtype })) }],
    },
    weightData,
  };
}

function recordStep(spec: DecoderSpec, sizes: BaseSizes, weights: Weights, stateShapes: readonly (readonly number[])[], position: number) {
  const ops = new TfGraphOps();
  const names = decoderTensorNames(stateShapes.length, false);
  const tokens = ops.input(names.inputs.tokens, [-1], 'int32');
  const positions = ops.input(names.inputs.positions, [-1], 'int32');
  const state = stateShapes.map((shape, i) => ops.input(names.inputs.state[i], shape));
  const out = spec.step(ops, lazyWeights(ops, spec, sizes, weights), { tokens, positions, state, position }, sizes);
  if (out.state.length !== stateShapes.length)
    throw new Error(`${spec.architecture}: step returns ${out.state.length} state tensors, initState ${stateShapes.length}`);
  ops.output('logProbs', out.logProbs);
  out.state.forEach((s, i) => ops.output(names.outputs.state[i], s));
  if (out.attention) ops.output('attention', out.attention);
  return { ops, attention: out.attention !== undefined, outShapes: out.state.map((x) => x.shape) };
}

/** Records both graphs. Throws when the step graph depends on the `position` number (it must read `positions`). */
export function recordDecoderGraphs(spec: DecoderSpec, sizes: BaseSizes, weights: Weights): DecoderGraphs {
  const featureShape = spec.featureShape(sizes);
  const initOps = new TfGraphOps();
  const features = initOps.input('features', [-1, ...featureShape]);
  const state = spec.initState(initOps, lazyWeights(initOps, spec, sizes, weights), features, sizes);
  const first = decoderTensorNames(state.length, false);
  state.forEach((s, i) => initOps.output(first.inputs.state[i], s));

  // State that grows with each word (a transformer's key/value caches) has sizes that init fixes at 0:
  // the dimensions a step changes are left to run time (-1) in the step graph's inputs.
  let stateShapes = state.map((s) => [-1, ...s.shape.slice(1)]);
  let step = recordStep(spec, sizes, weights, stateShapes, 0);
  const grown = stateShapes.map((shape, i) => shape.map((d, k) => (d === step.outShapes[i][k] ? d : -1)));
  if (JSON.stringify(grown) !== JSON.stringify(stateShapes)) {
    stateShapes = grown;
    step = recordStep(spec, sizes, weights, stateShapes, 0);
  }
  // One graph must serve every position: a spec that branches on the number would be wrong past step 0.
  const later = recordStep(spec, sizes, weights, stateShapes, 1);
  if (JSON.stringify(step.ops.nodes) !== JSON.stringify(later.ops.nodes)) {
    throw new Error(
      `${spec.architecture}: step() records a different graph at position 1 than at 0; it must read the position from the 'positions' tensor`,
    );
  }
  const names = decoderTensorNames(state.length, step.attention);
  return { init: files(initOps), step: files(step.ops), names, featureShape };
}
