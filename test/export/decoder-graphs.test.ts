// Every registered decoder, recorded as tfjs graph models (src/export/decoder-graphs.ts) and loaded with
// tf.loadGraphModel, computes what the same spec computes eagerly (TfjsDecoder): initial state, and for
// several steps the log-probabilities, next state and attention, to 1e-5.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { recordDecoderGraphs, type GraphModelFiles } from '../../src/export/decoder-graphs.js';
import type { DataSizes, DecoderSpec } from '../../src/model/decoder.js';
import { mulberry32 as seededRandom } from '../../src/util/random.js';
import { DECODERS } from '../../src/model/registry.js';
import { TfjsDecoder } from '../../src/engine/tfjs-decoder.js';

/** A graph model from memory, through tfjs' own loader (what a page does with a URL). */
export async function loadGraph(files: GraphModelFiles): Promise<tf.GraphModel> {
  const json = files.modelJson as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  const data = files.weightData.slice().buffer as ArrayBuffer;
  return tf.loadGraphModel({
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: data,
      format: 'graph-model',
    }),
  });
}

const SMALL = { embeddingSize: 3, hiddenSize: 4, attentionSize: 3, projectionSize: 0, layers: 1, heads: 1, width: 4, ffnSize: 6 };

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

describe('decoder graphs (tfjs graph models) equal the eager decoder', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  for (const [name, spec] of Object.entries(DECODERS) as [string, DecoderSpec][]) {
    it(`${name}: init and 3 steps, batch of 3`, async () => {
      const featureShape = spec.features === 'pooled' ? [5] : [2, 2, 3];
      // maxLength: the longest caption, which decoders with learned word positions size their table by.
      const data = { vocabSize: 11, featureShape, dropout: 0, maxLength: 6 } as DataSizes;
      const sizes = spec.sizesFor(data, SMALL);
      const rand = seededRandom(7);
      // Random weights everywhere (initial biases are zero, which would hide a wrong bias wiring).
      const weights = Object.fromEntries(
        spec
          .weightShapes(sizes)
          .map(([n, shape]) => [n, Float32Array.from({ length: shape.reduce((a, d) => a * d, 1) }, () => rand() - 0.5)]),
      );
      const graphs = recordDecoderGraphs(spec, sizes, weights);
      const init = await loadGraph(graphs.init);
      const step = await loadGraph(graphs.step);
      const eager = new TfjsDecoder(spec, sizes, weights, { fused: false });
      const before = tf.memory().numTensors;
      const features = tf.tensor(
        Float32Array.from({ length: 3 * featureShape.reduce((a, d) => a * d, 1) }, () => rand()),
        [3, ...graphs.featureShape],
      );
      let ref = eager.initState(features);
      let got = init.execute(
        { features },
        graphs.names.inputs.state.map((s) => s),
      ) as tf.Tensor[];
      got = Array.isArray(got) ? got : [got];
      ref.forEach((r, i) => expect(maxDiff(r, got[i])).toBeLessThan(1e-5));
      for (let t = 0; t < 3; t++) {
        const tokens = tf.tensor1d([1 + t, 4 + t, 10 - t], 'int32');
        const r = eager.step(tokens, ref, t);
        const feeds: Record<string, tf.Tensor> = { tokens, positions: tf.fill([3], t, 'int32') };
        graphs.names.inputs.state.forEach((n, i) => (feeds[n] = got[i]));
        const outNames = [
          graphs.names.outputs.logProbs,
          ...graphs.names.outputs.state,
          ...(graphs.names.outputs.attention ? [graphs.names.outputs.attention] : []),
        ];
        const g = step.execute(feeds, outNames) as tf.Tensor[];
        expect(maxDiff(r.logProbs, g[0])).toBeLessThan(1e-5);
        r.state.forEach((s, i) => expect(maxDiff(s, g[1 + i])).toBeLessThan(1e-5));
        expect(r.attention === undefined).toBe(graphs.names.outputs.attention === undefined);
        if (r.attention) expect(maxDiff(r.attention, g[g.length - 1])).toBeLessThan(1e-5);
        tf.dispose([
          tokens,
          feeds.positions,
          r.logProbs,
          ...ref,
          ...got,
          ...(r.attention ? [r.attention] : []),
          g[0],
          ...(r.attention ? [g[g.length - 1]] : []),
        ]);
        ref = r.state;
        got = g.slice(1, 1 + ref.length);
      }
      tf.dispose([features, ...ref, ...got]);
      expect(tf.memory().numTensors).toBe(before);
      eager.dispose();
      init.dispose();
      step.dispose();
    });
  }
});
