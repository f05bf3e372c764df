// What every caption decoder provides (merge-lstm.ts, attention-lstm.ts, transformer.ts), and the
// registry that rebuilds one from a checkpoint's `architecture`. A decoder is a pure description:
// its weights' names and shapes, their seeded initial values, its dropout sites, and its two
// computations written over Ops<T> (src/model/ops.ts) — teacher-forced logits for training, one
// step with state for search — so that any engine (src/engine/) can run and differentiate it.
import type { BatchTensors, Ops } from './ops.js';

/** Weight arrays by name (row-major float32; kernels [in, out] as in Keras). */
export type Weights = Record<string, Float32Array>;

/** The sizes every decoder has; each architecture adds its own fields (all saved in checkpoint.json). */
export interface BaseSizes {
  vocabSize: number;
  /** Values per image: the pooled vector's length, or regions x channels for spatial features. */
  featureSize: number;
  /** Dropout rate (training only). */
  dropout: number;
}

/**
 * A dropout site: inverted-dropout masks drawn on the host per caption (src/train/dropout.ts), so that
 * any split of a batch (gradient replicas) and any engine draw the same masks.
 * 'caption': one row of `width` per caption, [B, width]; 'token': one per position, [T*B, width] time-major.
 */
export interface DropoutSite {
  name: string;
  per: 'caption' | 'token';
  width: number;
}

export interface TeacherForced<T> {
  /** [N, vocab] at the scored positions, in the batch's row order. */
  logits: T;
  /** An extra scalar [1] added to the training loss (e.g. the attention penalty); not in the reported loss. */
  penalty?: T;
}

export interface StepOutput<T> {
  /** [B, vocab] log-probabilities of the next word. */
  logProbs: T;
  state: T[];
  /** [B, regions] attention weights of this step, for decoders that attend (maps for people). */
  attention?: T;
}

/** Size flags of `capgen train` (each decoder reads the ones it has and documents its defaults). */
export interface DecoderOptions {
  embeddingSize?: number;
  hiddenSize?: number;
  /** Attention: width of the additive attention's hidden layer. */
  attentionSize?: number;
  /** Spatial decoders: project the image channels to this width first (0 = keep them). */
  projectionSize?: number;
  /** Attention: weight of the doubly-stochastic attention penalty. */
  attentionPenalty?: number;
  /** Transformer: layers, heads, model width, feed-forward width. */
  layers?: number;
  heads?: number;
  width?: number;
  ffnSize?: number;
}

/** What the data decides: vocabulary, the features' shape per image, and the dropout rate asked for. */
export interface DataSizes {
  vocabSize: number;
  /** As the encoder writes them: [D] pooled, or [H, W, C] spatial (H*W regions of C channels). */
  featureShape: number[];
  dropout: number;
  /** Most input positions a caption can take (start + words + a spare): for position embeddings. */
  maxLength: number;
}

/** Training settings a decoder wants where the user gives no flag (`capgen train` applies them). */
export interface DecoderTrainingDefaults {
  learningRate?: number;
  dropout?: number;
  /** Linear learning-rate warm-up, in epochs (turned into steps once the data is known). */
  warmupEpochs?: number;
}

export interface DecoderSpec<S extends BaseSizes = BaseSizes> {
  readonly architecture: string;
  /** One line for logs and --help. */
  readonly description: string;
  /** Feature layout it takes: 'pooled' [D] or 'spatial' [regions, channels]. */
  readonly features: 'pooled' | 'spatial';
  /** Its own defaults for training flags (unset: the merge decoder's, src/train/config.ts). */
  readonly trainingDefaults?: DecoderTrainingDefaults;
  /** The sizes of a new model from the data and the size flags (unset flags take the decoder's defaults). */
  sizesFor(data: DataSizes, options: DecoderOptions): S;
  /** The sizes of this architecture read back from a checkpoint's meta (throws on missing fields). */
  sizesFrom(meta: object): S;
  /** Weight names and shapes, in checkpoint order. */
  weightShapes(sizes: S): [string, number[]][];
  /** Seeded initial values (Keras' defaults where Keras has the layer). */
  initialWeights(sizes: S, seed: number): Weights;
  dropoutSites(sizes: S): DropoutSite[];
  /** Feature shape per image that the decoder expects: [D] pooled or [regions, channels]. */
  featureShape(sizes: S): number[];
  /** Teacher forcing over a whole batch. `training` applies the batch's dropout masks. */
  teacherForced<T>(ops: Ops<T>, w: Record<string, T>, batch: BatchTensors<T>, ctx: { sizes: S; training: boolean }): TeacherForced<T>;
  /** features [B, ...featureShape] -> the initial search state (tensors whose first dimension is B). */
  initState<T>(ops: Ops<T>, w: Record<string, T>, features: T, sizes: S): T[];
  /**
   * One search step: tokens [B] int (start id first) at `position` (0-based). `positions` [B] int holds
   * the same position as a tensor: a step that depends on the position must read it from there (e.g.
   * gather a position embedding), so that one exported/compiled step graph serves every position.
   */
  step<T>(ops: Ops<T>, w: Record<string, T>, input: { tokens: T; positions: T; state: T[]; position: number }, sizes: S): StepOutput<T>;
}

/** Total values of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

/** Reads a numeric field of a checkpoint's meta (sizesFrom helpers). */
export function metaNumber(meta: object, key: string): number {
  const v: unknown = Reflect.get(meta, key);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`checkpoint meta has no numeric '${key}'`);
  return v;
}
