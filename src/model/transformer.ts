// A small pre-norm Transformer caption decoder: causal self-attention over the words,
// cross-attention over the image regions, a ReLU feed-forward block, per layer; written over Ops
// (src/model/ops.ts) so that ONNX Runtime and tfjs train the same definition.
//
// regions [B, H*W, C] -> Dense(width) + (row[h] + column[w] embeddings) = memory [B, R, width]
// words [T*B] -> Embedding(width) + position[t] -> Dropout -> layers x {
//     x += Dropout(SelfAttention(LN(x)))          causal: position t sees positions <= t
//     x += Dropout(CrossAttention(LN(x), memory))
//     x += Dropout(Dense(width)(ReLU(Dense(ffnSize)(LN(x)))))
//   } -> (scored rows) -> LN -> Dense(vocab)
//
// Everything is time-major as the batches are (row t*B+b): attention reshapes [T*B, D] to
// [T, B, heads, dh] and transposes to [B, heads, T, dh]; padding after a caption's end is hidden
// from its scored positions by the causal mask, so no key-padding mask is needed. Search keeps each
// layer's self-attention keys/values of the words so far in the state ([B, heads, t, dh], one
// concat per step), and the regions' cross-attention keys/values from initState: a step costs the
// projections of one word plus attention over t cached keys, never a pass over the whole prefix.
//
// Weight layout (row-major float32, kernels [in, out]); per layer i, `l<i>.` prefixes:
//   image.kernel [C, D] image.bias [D]    image.rows [H, D] image.columns [W, D]
//   embedding [V, D]                      positions [maxLength, D]
//   l<i>.norm1.gamma/beta [D]  l<i>.self.kernel [D, 3D] (q, k, v blocks) l<i>.self.bias [3D]
//   l<i>.self.out.kernel [D, D] l<i>.self.out.bias [D]
//   l<i>.norm2.gamma/beta [D]  l<i>.cross.query.kernel [D, D] l<i>.cross.query.bias [D]
//   l<i>.cross.kv.kernel [D, 2D] (k, v blocks) l<i>.cross.kv.bias [2D] l<i>.cross.out.kernel [D, D] l<i>.cross.out.bias [D]
//   l<i>.norm3.gamma/beta [D]  l<i>.ffn.kernel1 [D, F] l<i>.ffn.bias1 [F] l<i>.ffn.kernel2 [F, D] l<i>.ffn.bias2 [D]
//   norm.gamma/beta [D]        output.kernel [D, V] output.bias [V]
// The output projection is not tied to the embedding: as in the PyTorch peer (bench/), and the
// vocabulary is small (Flickr8k: 2535 x 256 values), so tying would save little.
import { CapgenError } from '../errors.js';
import { metaNumber, type BaseSizes, type DecoderSpec, type Weights } from './decoder.js';
import { mulberry32 } from '../util/random.js';
import { glorotUniform, uniform } from './init.js';
import { dense, layerNorm, type Ops } from './ops.js';

export const ARCHITECTURE = 'transformer';

export interface TransformerSizes extends BaseSizes {
  /** The region grid (H x W regions of `channels` values; featureSize = H * W * channels). */
  gridHeight: number;
  gridWidth: number;
  channels: number;
  /** Model width D. */
  width: number;
  layers: number;
  heads: number;
  /** Feed-forward width F. */
  ffnSize: number;
  /** Word positions with an embedding (longer inputs reuse the last one). */
  maxLength: number;
}

const LAYER_WEIGHTS = [
  'norm1.gamma',
  'norm1.beta',
  'self.kernel',
  'self.bias',
  'self.out.kernel',
  'self.out.bias',
  'norm2.gamma',
  'norm2.beta',
  'cross.query.kernel',
  'cross.query.bias',
  'cross.kv.kernel',
  'cross.kv.bias',
  'cross.out.kernel',
  'cross.out.bias',
  'norm3.gamma',
  'norm3.beta',
  'ffn.kernel1',
  'ffn.bias1',
  'ffn.kernel2',
  'ffn.bias2',
] as const;

function layerShapes(s: TransformerSizes): Record<(typeof LAYER_WEIGHTS)[number], number[]> {
  const D = s.width;
  const F = s.ffnSize;
  return {
    'norm1.gamma': [D],
    'norm1.beta': [D],
    'self.kernel': [D, 3 * D],
    'self.bias': [3 * D],
    'self.out.kernel': [D, D],
    'self.out.bias': [D],
    'norm2.gamma': [D],
    'norm2.beta': [D],
    'cross.query.kernel': [D, D],
    'cross.query.bias': [D],
    'cross.kv.kernel': [D, 2 * D],
    'cross.kv.bias': [2 * D],
    'cross.out.kernel': [D, D],
    'cross.out.bias': [D],
    'norm3.gamma': [D],
    'norm3.beta': [D],
    'ffn.kernel1': [D, F],
    'ffn.bias1': [F],
    'ffn.kernel2': [F, D],
    'ffn.bias2': [D],
  };
}

export function weightShapes(s: TransformerSizes): [string, number[]][] {
  const D = s.width;
  const out: [string, number[]][] = [
    ['image.kernel', [s.channels, D]],
    ['image.bias', [D]],
    ['image.rows', [s.gridHeight, D]],
    ['image.columns', [s.gridWidth, D]],
    ['embedding', [s.vocabSize, D]],
    ['positions', [s.maxLength, D]],
  ];
  const shapes = layerShapes(s);
  for (let i = 0; i < s.layers; i++) for (const n of LAYER_WEIGHTS) out.push([`l${i}.${n}`, shapes[n]]);
  out.push(['norm.gamma', [D]], ['norm.beta', [D]], ['output.kernel', [D, s.vocabSize]], ['output.bias', [s.vocabSize]]);
  return out;
}

/** Seeded: glorot-uniform kernels (PyTorch's MultiheadAttention does the same for its fused q/k/v
 *  kernel), zero biases, unit layer-norm gains, uniform(+-0.05) embeddings (Keras' Embedding). */
export function initialWeights(s: TransformerSizes, seed: number): Weights {
  const rand = mulberry32(seed);
  const w: Weights = {};
  for (const [name, shape] of weightShapes(s)) {
    const size = shape.reduce((a, d) => a * d, 1);
    if (name.endsWith('.gamma')) w[name] = new Float32Array(size).fill(1);
    else if (shape.length === 1)
      w[name] = new Float32Array(size); // biases, betas
    else if (name === 'embedding' || name === 'positions' || name === 'image.rows' || name === 'image.columns')
      w[name] = uniform(size, 0.05, rand);
    else w[name] = glorotUniform(shape[0], shape[1], rand);
  }
  return w;
}

// ---- pieces ----

/** [T*B, D] time-major -> [B, heads, T, dh]. */
function splitHeads<T>(ops: Ops<T>, x: T, steps: number, s: TransformerSizes, batch: number): T {
  return ops.transpose(ops.reshape(x, [steps, batch, s.heads, s.width / s.heads]), [1, 2, 0, 3]);
}

/** [B, heads, T, dh] -> [T*B, D] time-major. */
function mergeHeads<T>(ops: Ops<T>, x: T, steps: number, s: TransformerSizes, batch: number): T {
  return ops.reshape(ops.transpose(x, [2, 0, 1, 3]), [steps * batch, s.width]);
}

/** softmax(q k^T / sqrt(dh) + mask) v for q [B, h, Tq, dh], k/v [B, h, Tk, dh]; probabilities [B, h, Tq, Tk] too. */
function attend<T>(ops: Ops<T>, q: T, k: T, v: T, s: TransformerSizes, mask?: T): { context: T; probs: T } {
  let scores = ops.matmul(ops.scale(q, 1 / Math.sqrt(s.width / s.heads)), k, { transposeB: true });
  if (mask !== undefined) scores = ops.add(scores, mask);
  const probs = ops.softmax(scores);
  return { context: ops.matmul(probs, v), probs };
}

/** The regions' cross-attention keys and values of layer i: memory [B, R, D] -> two [B, heads, R, dh]. */
function crossKeysValues<T>(ops: Ops<T>, w: Record<string, T>, i: number, memory: T, s: TransformerSizes): [T, T] {
  const R = s.gridHeight * s.gridWidth;
  const kv = dense(ops, memory, w[`l${i}.cross.kv.kernel`], w[`l${i}.cross.kv.bias`]); // [B, R, 2D]
  const dh = s.width / s.heads;
  return ops.split(kv, [s.width, s.width], 2).map((x) => ops.transpose(ops.reshape(x, [-1, R, s.heads, dh]), [0, 2, 1, 3])) as [T, T];
}

/** features [B, ...] (any layout of H*W*C values per image) -> memory [B, R, D]. */
function imageMemory<T>(ops: Ops<T>, w: Record<string, T>, features: T, s: TransformerSizes): T {
  const R = s.gridHeight * s.gridWidth;
  const projected = dense(ops, ops.reshape(features, [-1, R, s.channels]), w['image.kernel'], w['image.bias']); // [B, R, D]
  // Learned 2-D positions: region (r, c) gets rows[r] + columns[c].
  const grid = ops.add(
    ops.reshape(w['image.rows'], [s.gridHeight, 1, s.width]),
    ops.reshape(w['image.columns'], [1, s.gridWidth, s.width]),
  );
  return ops.add(projected, ops.reshape(grid, [R, s.width]));
}

/** Position embeddings of positions first .. first+count-1 -> [count, D]; past maxLength the last one
 *  (a one-hot selection product: no int constants needed, and its gradient is a plain matmul's). */
function positionRows<T>(ops: Ops<T>, w: Record<string, T>, first: number, count: number, s: TransformerSizes): T {
  const select = new Float32Array(count * s.maxLength);
  for (let t = 0; t < count; t++) select[t * s.maxLength + Math.min(first + t, s.maxLength - 1)] = 1;
  return ops.matmul(ops.constant(select, [count, s.maxLength]), w.positions);
}

/** [T, T]: 0 on and below the diagonal, -1e9 above (exp underflows to exactly 0: no peeking ahead). */
function causalMask<T>(ops: Ops<T>, steps: number): T {
  const m = new Float32Array(steps * steps);
  for (let i = 0; i < steps; i++) for (let j = i + 1; j < steps; j++) m[i * steps + j] = -1e9;
  return ops.constant(m, [steps, steps]);
}

/** Cross-attention and feed-forward sub-blocks of layer i for rows x [T*B, D]; probs [B, h, T, R]. */
function crossAndFeedForward<T>(
  ops: Ops<T>,
  w: Record<string, T>,
  x: T,
  ctx: { i: number; steps: number; batch: number; cross: [T, T]; s: TransformerSizes; drop?: (site: string, y: T) => T },
): { x: T; probs: T } {
  const { i, steps, batch, s } = ctx;
  const drop = ctx.drop ?? ((_: string, y: T) => y);
  const p = `l${i}.`;
  const q = splitHeads(
    ops,
    dense(ops, layerNorm(ops, x, w[`${p}norm2.gamma`], w[`${p}norm2.beta`]), w[`${p}cross.query.kernel`], w[`${p}cross.query.bias`]),
    steps,
    s,
    batch,
  );
  const att = attend(ops, q, ctx.cross[0], ctx.cross[1], s);
  const crossOut = dense(ops, mergeHeads(ops, att.context, steps, s, batch), w[`${p}cross.out.kernel`], w[`${p}cross.out.bias`]);
  x = ops.add(x, drop(`${p}cross`, crossOut));
  const hidden = dense(ops, layerNorm(ops, x, w[`${p}norm3.gamma`], w[`${p}norm3.beta`]), w[`${p}ffn.kernel1`], w[`${p}ffn.bias1`], 'relu');
  x = ops.add(x, drop(`${p}ffn`, dense(ops, hidden, w[`${p}ffn.kernel2`], w[`${p}ffn.bias2`])));
  return { x, probs: att.probs };
}

/** Layer i's normalised input projected to q, k, v, each split into heads [B, h, T, dh]. */
function selfQkv<T>(ops: Ops<T>, w: Record<string, T>, x: T, i: number, steps: number, batch: number, s: TransformerSizes): T[] {
  const qkv = dense(ops, layerNorm(ops, x, w[`l${i}.norm1.gamma`], w[`l${i}.norm1.beta`]), w[`l${i}.self.kernel`], w[`l${i}.self.bias`]);
  return ops.split(qkv, [s.width, s.width, s.width], 1).map((y) => splitHeads(ops, y, steps, s, batch));
}

/** Logits [N, V] of final rows [N, D]. */
function head<T>(ops: Ops<T>, w: Record<string, T>, y: T): T {
  return dense(ops, layerNorm(ops, y, w['norm.gamma'], w['norm.beta']), w['output.kernel'], w['output.bias']);
}

/** Dropout sites, in the order their masks are drawn. */
function siteNames(s: TransformerSizes): string[] {
  const names = ['embeddings'];
  for (let i = 0; i < s.layers; i++) names.push(`l${i}.self`, `l${i}.cross`, `l${i}.ffn`);
  return names;
}

// Defaults of a small captioning Transformer (the usual starting point is 3 layers, width 256-512, 8 heads).
// 1 layer with a feed-forward of 2 x width: on Flickr8k (MobileNet 7x7 regions) the best validation
// loss fell as layers were removed (3 layers with 4 x width 2.910, 2 layers 2.905, 1 layer 2.899, all
// at epoch 6), beam-3 BLEU-4 / CIDEr-D rose from 2 layers to 1 (0.176 / 0.435 -> 0.188 / 0.437), and
// the epoch became much cheaper, within the budget of a few merge-decoder epochs (bench/README.md,
// "The three decoders"). Flickr8k is small: deeper decoders want more data (--layers N).
export const TRANSFORMER_DEFAULTS = {
  layers: 1,
  // 512 would quadruple most matrix products (and the epoch time), past the budget of a few merge-decoder
  // epochs on CPUs; --width 512 where a GPU or more cores allow it.
  width: 256,
  heads: 8, // dh = 32 at width 256: the usual head size
  ffnFactor: 2, // feed-forward width = 2 x width ("Attention is all you need": 4 x, for far more data)
} as const;

export const transformer: DecoderSpec<TransformerSizes> = {
  architecture: ARCHITECTURE,
  description: 'a pre-norm Transformer: causal self-attention over the words, cross-attention over the image regions',
  features: 'spatial',
  // Transformers train best with a smaller rate than the merge LSTM's 0.5, a warm-up of about an
  // epoch (Adam's early steps are large while its second moments are still near zero) and a peak
  // rate below Keras' 1e-3 (the PyTorch peer's 5e-4); used where the flags are not given.
  trainingDefaults: { learningRate: 5e-4, dropout: 0.1, warmupEpochs: 1 },
  sizesFor(data, o) {
    const fs = data.featureShape;
    if (fs.length !== 2 && fs.length !== 3)
      throw new CapgenError('USAGE', `the transformer decoder attends over image regions, but the features are [${fs.join(', ')}]`, {
        hint: 'prepare with --pooling none',
      });
    const [gridHeight, gridWidth, channels] = fs.length === 3 ? fs : [fs[0], 1, fs[1]];
    const width = o.width ?? TRANSFORMER_DEFAULTS.width;
    const heads = o.heads ?? TRANSFORMER_DEFAULTS.heads;
    if (width % heads !== 0)
      throw new CapgenError('USAGE', `--width ${width} is not a multiple of --heads ${heads}`, {
        hint: 'each head takes width / heads channels',
      });
    if (!(data.maxLength !== undefined && data.maxLength > 0))
      throw new Error('transformer: DataSizes.maxLength (word positions) is needed');
    return {
      vocabSize: data.vocabSize,
      featureSize: gridHeight * gridWidth * channels,
      dropout: data.dropout,
      gridHeight,
      gridWidth,
      channels,
      width,
      layers: o.layers ?? TRANSFORMER_DEFAULTS.layers,
      heads,
      ffnSize: o.ffnSize ?? TRANSFORMER_DEFAULTS.ffnFactor * width,
      maxLength: data.maxLength,
    };
  },
  sizesFrom: (m) => ({
    vocabSize: metaNumber(m, 'vocabSize'),
    featureSize: metaNumber(m, 'featureSize'),
    dropout: metaNumber(m, 'dropout'),
    gridHeight: metaNumber(m, 'gridHeight'),
    gridWidth: metaNumber(m, 'gridWidth'),
    channels: metaNumber(m, 'channels'),
    width: metaNumber(m, 'width'),
    layers: metaNumber(m, 'layers'),
    heads: metaNumber(m, 'heads'),
    ffnSize: metaNumber(m, 'ffnSize'),
    maxLength: metaNumber(m, 'maxLength'),
  }),
  weightShapes,
  initialWeights,
  // Token masks on the embeddings and on each sub-block's output before its residual add (the
  // original Transformer's sites); dropout on attention probabilities is left out.
  dropoutSites: (s) => siteNames(s).map((name) => ({ name, per: 'token' as const, width: s.width })),
  featureShape: (s) => [s.gridHeight * s.gridWidth, s.channels],

  teacherForced(ops, w, batch, { sizes: s, training }) {
    const { batchSize: B, timeSteps: T } = batch;
    const dropping = training && s.dropout > 0;
    if (dropping) {
      for (const name of siteNames(s))
        if (!batch.masks[name])
          throw new Error(`transformer: training with dropout needs the batch's dropout masks ('${name}' is missing)`);
    }
    const drop = (site: string, y: (typeof batch)['inputs']) => (dropping ? ops.mul(y, batch.masks[site]) : y);
    const memory = imageMemory(ops, w, batch.features, s);
    const words = ops.reshape(ops.gather(w.embedding, batch.inputs), [T, B, s.width]);
    let x = drop('embeddings', ops.reshape(ops.add(words, ops.reshape(positionRows(ops, w, 0, T, s), [T, 1, s.width])), [T * B, s.width])); // [T*B, D]
    const mask = causalMask(ops, T);
    for (let i = 0; i < s.layers; i++) {
      const [q, k, v] = selfQkv(ops, w, x, i, T, B, s);
      const att = attend(ops, q, k, v, s, mask);
      x = ops.add(
        x,
        drop(`l${i}.self`, dense(ops, mergeHeads(ops, att.context, T, s, B), w[`l${i}.self.out.kernel`], w[`l${i}.self.out.bias`])),
      );
      x = crossAndFeedForward(ops, w, x, { i, steps: T, batch: B, cross: crossKeysValues(ops, w, i, memory, s), s, drop }).x;
    }
    // Only the scored rows go through the final norm and the vocabulary projection (both are per row).
    return { logits: head(ops, w, ops.gather(x, batch.rows)) };
  },

  /** State: per layer the regions' cross-attention keys and values [B, h, R, dh], then per layer the
   *  words' self-attention keys and values so far [B, h, t, dh] (empty at first: t = 0). The layout
   *  never changes, so one recorded step graph (src/engine/onnx/decode-graphs.ts) serves every position. */
  initState(ops, w, features, s) {
    const memory = imageMemory(ops, w, features, s);
    const cross: (typeof memory)[] = [];
    for (let i = 0; i < s.layers; i++) cross.push(...crossKeysValues(ops, w, i, memory, s));
    // Empty caches with the batch's (possibly dynamic) size: zero positions cut from a cross tensor.
    const R = s.gridHeight * s.gridWidth;
    const empty = () => ops.split(cross[0], [0, R], 2)[0];
    const caches = Array.from({ length: 2 * s.layers }, empty);
    return [...cross, ...caches];
  },

  step(ops, w, { tokens, positions, state, position }, s) {
    const L = s.layers;
    if (state.length !== 4 * L) throw new Error(`transformer: a state of ${state.length} tensors, expected ${4 * L}`);
    // Positions come as a tensor (one step graph for all of them); an eager caller's number is checked.
    if (ops.kind === 'tfjs' && position >= s.maxLength)
      throw new Error(`transformer: position ${position} is past the ${s.maxLength} word positions it was trained with`);
    const B = ops.shape(tokens)[0];
    let x = ops.add(ops.gather(w.embedding, tokens), ops.gather(w.positions, positions)); // [B, D]
    const caches: typeof state = [];
    let probs: typeof x | undefined;
    for (let i = 0; i < L; i++) {
      const [q, kNew, vNew] = selfQkv(ops, w, x, i, 1, B, s); // [B, h, 1, dh]
      const k = ops.concat([state[2 * L + 2 * i], kNew], 2); // [B, h, t+1, dh]
      const v = ops.concat([state[2 * L + 2 * i + 1], vNew], 2);
      caches.push(k, v);
      const att = attend(ops, q, k, v, s); // the cache holds positions <= this one only: no mask
      x = ops.add(x, dense(ops, mergeHeads(ops, att.context, 1, s, B), w[`l${i}.self.out.kernel`], w[`l${i}.self.out.bias`]));
      const r = crossAndFeedForward(ops, w, x, { i, steps: 1, batch: B, cross: [state[2 * i], state[2 * i + 1]], s });
      x = r.x;
      probs = r.probs;
    }
    // Maps for people: the last layer's cross-attention, averaged over heads: [B, h, 1, R] -> [B, R].
    const attention = ops.mean(ops.reshape(probs as typeof x, [B, s.heads, s.gridHeight * s.gridWidth]), [1]);
    return { logProbs: ops.logSoftmax(head(ops, w, x)), state: [...state.slice(0, 2 * L), ...caches], attention };
  },
};
