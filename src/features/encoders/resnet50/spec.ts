// The layer plan of Keras Applications' ResNet50 (v1: the stride sits on the first 1x1 convolution
// of a stage), with Keras' layer names and weight shapes. Pure data: no tensors.

/** One convolution followed by its BatchNormalization, e.g. conv2_block1_1_conv + conv2_block1_1_bn. */
export interface ConvSpec {
  conv: string;
  bn: string;
  kernelSize: number;
  stride: number;
  padding: 'same' | 'valid';
  inChannels: number;
  filters: number;
}

export interface BlockSpec {
  /** e.g. conv3_block1 */
  name: string;
  /** Projection shortcut (`_0_conv`), only on the first block of a stage. */
  shortcut?: ConvSpec;
  /** `_1_conv` (1x1, strided), `_2_conv` (3x3), `_3_conv` (1x1, 4x filters). */
  convs: [ConvSpec, ConvSpec, ConvSpec];
}

export interface ResNet50Spec {
  /** conv1_conv: 7x7 stride 2 after 3 pixels of zero padding. */
  stem: ConvSpec;
  blocks: BlockSpec[];
  /** Channels of the last feature map (2048 at full width). */
  outChannels: number;
}

/** Keras' BatchNormalization epsilon in ResNet50. */
export const BN_EPSILON = 1.001e-5;

/** (base filters, blocks, stride of the first block) per stage, as in keras.applications.resnet. */
const STAGES: [string, number, number, number][] = [
  ['conv2', 64, 3, 1],
  ['conv3', 128, 4, 2],
  ['conv4', 256, 6, 2],
  ['conv5', 512, 3, 2],
];

/**
 * @param widthDivisor divides every filter count (1 = the real network). Tests use a narrower
 *   copy with identical structure and names so that a plain-array reference can check it quickly.
 */
export function resnet50Spec(widthDivisor = 1): ResNet50Spec {
  const w = (n: number) => Math.max(1, Math.round(n / widthDivisor));
  const conv = (name: string, o: Omit<ConvSpec, 'conv' | 'bn'>): ConvSpec => ({ conv: `${name}_conv`, bn: `${name}_bn`, ...o });
  const stem = conv('conv1', { kernelSize: 7, stride: 2, padding: 'valid', inChannels: 3, filters: w(64) });
  const blocks: BlockSpec[] = [];
  let channels = stem.filters;
  for (const [stage, filters, count, firstStride] of STAGES) {
    for (let i = 1; i <= count; i++) {
      const name = `${stage}_block${i}`;
      const stride = i === 1 ? firstStride : 1;
      const f = w(filters);
      const out = w(4 * filters);
      blocks.push({
        name,
        shortcut: i === 1 ? conv(`${name}_0`, { kernelSize: 1, stride, padding: 'valid', inChannels: channels, filters: out }) : undefined,
        convs: [
          conv(`${name}_1`, { kernelSize: 1, stride, padding: 'valid', inChannels: channels, filters: f }),
          conv(`${name}_2`, { kernelSize: 3, stride: 1, padding: 'same', inChannels: f, filters: f }),
          conv(`${name}_3`, { kernelSize: 1, stride: 1, padding: 'valid', inChannels: f, filters: out }),
        ],
      });
      channels = out;
    }
  }
  return { stem, blocks, outChannels: channels };
}

/** Every conv+BN pair in network order. */
export function allConvs(spec: ResNet50Spec): ConvSpec[] {
  const list = [spec.stem];
  for (const b of spec.blocks) {
    if (b.shortcut) list.push(b.shortcut);
    list.push(...b.convs);
  }
  return list;
}

export interface WeightShape {
  layer: string;
  /** Keras weight name, e.g. `conv1_conv/kernel:0`. */
  name: string;
  shape: number[];
}

/** The weights a Keras `include_top=False` file holds for this spec, in Keras' per-layer order. */
export function kerasWeightShapes(spec: ResNet50Spec): WeightShape[] {
  const shapes: WeightShape[] = [];
  for (const c of allConvs(spec)) {
    shapes.push({ layer: c.conv, name: `${c.conv}/kernel:0`, shape: [c.kernelSize, c.kernelSize, c.inChannels, c.filters] });
    shapes.push({ layer: c.conv, name: `${c.conv}/bias:0`, shape: [c.filters] });
    for (const p of ['gamma', 'beta', 'moving_mean', 'moving_variance'])
      shapes.push({ layer: c.bn, name: `${c.bn}/${p}:0`, shape: [c.filters] });
  }
  return shapes;
}

/** Keras' layers without weights, listed in `layer_names` with an empty `weight_names`. */
export function kerasWeightlessLayers(spec: ResNet50Spec): string[] {
  const names = ['input_1', 'conv1_pad', 'conv1_relu', 'pool1_pad', 'pool1_pool'];
  for (const b of spec.blocks) names.push(`${b.name}_1_relu`, `${b.name}_2_relu`, `${b.name}_add`, `${b.name}_out`);
  return names;
}
