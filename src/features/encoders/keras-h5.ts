// Reads Keras HDF5 weight files (`model.save_weights` / keras.applications downloads) with h5wasm:
// root attribute `layer_names`, per-layer attribute `weight_names`, one dataset per weight.
import h5wasm from 'h5wasm/node';
import { CapgenError } from '../../errors.js';

export interface KerasWeight {
  /** e.g. `conv1_conv/kernel:0` */
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Layer name -> its weights, in Keras' order (kernel, bias / gamma, beta, moving_mean, moving_variance). */
export type KerasWeights = Map<string, KerasWeight[]>;

/** A string-array attribute as written by h5py (fixed-length bytes) or others; an empty one may read as a number array. */
function asStrings(value: unknown): string[] {
  if (value === null || value === undefined || (ArrayBuffer.isView(value) && !(value instanceof Uint8Array))) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => (typeof v === 'string' ? v : new TextDecoder().decode(v as Uint8Array)).replace(/\0+$/, ''));
}

/** Loads every weight of every layer listed in the file's `layer_names`. */
export async function readKerasH5(file: string): Promise<KerasWeights> {
  await h5wasm.ready;
  let h5: InstanceType<typeof h5wasm.File>;
  try {
    h5 = new h5wasm.File(file, 'r');
  } catch (e) {
    throw new CapgenError('BAD_INPUT', `not a readable HDF5 file: ${(e as Error).message}`, { file, cause: e });
  }
  try {
    // Whole-model files keep the weights under /model_weights; weight-only files at the root.
    const root = h5.keys().includes('model_weights') ? (h5.get('model_weights') as InstanceType<typeof h5wasm.Group>) : h5;
    const layerAttr = root.attrs['layer_names'];
    if (!layerAttr) {
      throw new CapgenError('BAD_INPUT', 'no `layer_names` attribute: not a Keras weights file', {
        file,
        hint: 'use the file Keras downloads, e.g. resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5',
      });
    }
    const weights: KerasWeights = new Map();
    for (const layer of asStrings(layerAttr.value)) {
      const group = root.get(layer) as InstanceType<typeof h5wasm.Group> | null;
      if (!group) throw new CapgenError('BAD_INPUT', `layer '${layer}' is listed in layer_names but has no group`, { file });
      const names = asStrings(group.attrs['weight_names']?.value);
      const list: KerasWeight[] = names.map((name) => {
        const ds = group.get(name) as InstanceType<typeof h5wasm.Dataset> | null;
        if (!ds) throw new CapgenError('BAD_INPUT', `weight '${layer}/${name}' is listed but missing`, { file });
        const raw = ds.value;
        const values = raw instanceof Float32Array ? raw : Float32Array.from(raw as ArrayLike<number>);
        return { name, shape: ds.shape ?? [], values };
      });
      weights.set(layer, list);
    }
    return weights;
  } finally {
    h5.close();
  }
}

/**
 * Writes a weights file in Keras' layout (used by tests and by anyone converting weights):
 * `layer_names` on the root, `weight_names` per layer group, datasets at `<layer>/<weight name>`.
 */
export async function writeKerasH5(file: string, layers: { layer: string; weights: KerasWeight[] }[]): Promise<void> {
  await h5wasm.ready;
  const h5 = new h5wasm.File(file, 'w');
  try {
    // Fixed-length byte strings, as h5py writes numpy `S` arrays.
    const fixed = (names: string[]) => `S${Math.max(1, ...names.map((n) => Buffer.byteLength(n)))}`;
    const names = layers.map((l) => l.layer);
    h5.create_attribute('layer_names', names, [names.length], fixed(names));
    h5.create_attribute('backend', 'tensorflow');
    h5.create_attribute('keras_version', '2.15.0');
    for (const { layer, weights } of layers) {
      // A '/' in a layer name (Keras 2's DenseNet: conv1/conv) nests groups, as h5py does.
      let group = h5 as unknown as InstanceType<typeof h5wasm.Group>;
      for (const part of layer.split('/'))
        group = (group.keys().includes(part) ? group.get(part) : group.create_group(part)) as InstanceType<typeof h5wasm.Group>;
      const weightNames = weights.map((w) => w.name);
      group.create_attribute('weight_names', weightNames, [weightNames.length], fixed(weightNames));
      for (const w of weights) {
        // Keras nests each dataset one level deeper: <layer>/<layer>/kernel:0
        const parts = w.name.split('/');
        let parent = group;
        for (const part of parts.slice(0, -1))
          parent = (parent.keys().includes(part) ? parent.get(part) : parent.create_group(part)) as typeof group;
        parent.create_dataset({ name: parts[parts.length - 1], data: w.values, shape: w.shape, dtype: '<f' });
      }
    }
  } finally {
    h5.close();
  }
}
