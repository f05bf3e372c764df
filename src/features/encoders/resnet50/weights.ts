// Puts the arrays of a Keras ResNet50 weights file into the layers of spec.ts, checking that
// each expected weight is there with its shape and that nothing is left over; or generates seeded ones.
import { CapgenError } from '../../../errors.js';
import type { KerasWeights } from '../keras-h5.js';
import { allConvs, kerasWeightShapes, type ResNet50Spec } from './spec.js';

import { mulberry32 } from '../../../util/random.js';
/** Raw weights of one conv + BN pair, as Keras stores them. kernel is [kh, kw, in, out]. */
export interface ConvWeights {
  kernel: Float32Array;
  bias: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
}

/** conv layer name (e.g. conv2_block1_1_conv) -> its conv and BN weights. */
export type ResNet50Weights = Map<string, ConvWeights>;

const BN_FIELDS = { 'gamma:0': 'gamma', 'beta:0': 'beta', 'moving_mean:0': 'movingMean', 'moving_variance:0': 'movingVariance' } as const;

/**
 * Maps a Keras weights file onto the spec. Throws (naming the file) when a weight is missing, has
 * the wrong shape, or when the file holds weights the spec does not use (e.g. the 1000-class top).
 */
export function mapResNet50Weights(spec: ResNet50Spec, file: KerasWeights, fileName: string): ResNet50Weights {
  const byName = new Map<string, { values: Float32Array; shape: number[] }>();
  for (const [layer, weights] of file) for (const w of weights) byName.set(`${layer}::${w.name.split('/').pop()}`, w);
  const used = new Set<string>();
  const take = (layer: string, name: string, shape: number[]): Float32Array => {
    const key = `${layer}::${name.split('/').pop()}`;
    const w = byName.get(key);
    if (!w)
      throw new CapgenError('BAD_INPUT', `weight ${name} of layer ${layer} is missing`, {
        file: fileName,
        hint: 'expected the Keras ResNet50 include_top=False weights',
      });
    if (w.shape.join('x') !== shape.join('x')) {
      throw new CapgenError('BAD_INPUT', `weight ${name} has shape [${w.shape}], expected [${shape}]`, { file: fileName });
    }
    used.add(key);
    return w.values;
  };
  const out: ResNet50Weights = new Map();
  const shapes = kerasWeightShapes(spec);
  for (const c of allConvs(spec)) {
    const entry: Partial<ConvWeights> = {};
    for (const s of shapes.filter((x) => x.layer === c.conv || x.layer === c.bn)) {
      const short = s.name.split('/').pop() as string;
      const field = short === 'kernel:0' ? 'kernel' : short === 'bias:0' ? 'bias' : BN_FIELDS[short as keyof typeof BN_FIELDS];
      entry[field] = take(s.layer, s.name, s.shape);
    }
    out.set(c.conv, entry as ConvWeights);
  }
  const leftover = [...byName.keys()].filter((k) => !used.has(k));
  if (leftover.length) {
    throw new CapgenError(
      'BAD_INPUT',
      `${leftover.length} weights are not part of ResNet50 (no top), e.g. ${leftover[0].replace('::', '/')}`,
      {
        file: fileName,
        hint: 'use resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5, not the file with the classifier',
      },
    );
  }
  return out;
}

/**
 * Seeded stand-in weights (only when the user asks for `--weights random`): He-uniform kernels,
 * small random biases and BatchNorm statistics so that folding is exercised, never all-identity.
 */
export function randomResNet50Weights(spec: ResNet50Spec, seed: number): ResNet50Weights {
  const rand = mulberry32(seed); // so `--weights random --seed N` repeats exactly
  const fill = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
  const out: ResNet50Weights = new Map();
  for (const c of allConvs(spec)) {
    const fanIn = c.kernelSize * c.kernelSize * c.inChannels;
    const limit = Math.sqrt(6 / fanIn);
    out.set(c.conv, {
      kernel: fill(fanIn * c.filters, -limit, limit),
      bias: fill(c.filters, -0.1, 0.1),
      // gamma < 1 keeps the residual sum from growing block after block
      gamma: fill(c.filters, 0.2, 0.6),
      beta: fill(c.filters, -0.1, 0.1),
      movingMean: fill(c.filters, -0.1, 0.1),
      movingVariance: fill(c.filters, 0.5, 1.5),
    });
  }
  return out;
}

/** The inverse of mapResNet50Weights: Keras' file layout (layer -> weights in Keras' order). */
export function toKerasLayers(
  spec: ResNet50Spec,
  weights: ResNet50Weights,
): { layer: string; weights: { name: string; shape: number[]; values: Float32Array }[] }[] {
  const layers: { layer: string; weights: { name: string; shape: number[]; values: Float32Array }[] }[] = [];
  for (const c of allConvs(spec)) {
    const w = weights.get(c.conv) as ConvWeights;
    const k = c.kernelSize;
    layers.push({
      layer: c.conv,
      weights: [
        { name: `${c.conv}/kernel:0`, shape: [k, k, c.inChannels, c.filters], values: w.kernel },
        { name: `${c.conv}/bias:0`, shape: [c.filters], values: w.bias },
      ],
    });
    layers.push({
      layer: c.bn,
      weights: (['gamma', 'beta', 'moving_mean', 'moving_variance'] as const).map((p) => ({
        name: `${c.bn}/${p}:0`,
        shape: [c.filters],
        values: w[({ gamma: 'gamma', beta: 'beta', moving_mean: 'movingMean', moving_variance: 'movingVariance' } as const)[p]],
      })),
    });
  }
  return layers;
}
