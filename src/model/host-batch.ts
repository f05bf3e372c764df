// A training batch as plain host arrays: what src/train/batches.ts builds and what every engine's training
// step (tfjs replicas, ONNX Runtime) takes in. It sits with the model, below the engines and the trainer.

export interface HostMask {
  /** B for a 'caption' site, T*B for a 'token' site. */
  rows: number;
  values: Float32Array;
}

/** A batch as plain arrays (time-major: position t of caption b is row t*B+b). */
export interface HostBatch {
  /** Columns of the layout, padding captions included (see BuildOptions.padTo). */
  batchSize: number;
  timeSteps: number;
  features: Float32Array; // [B, featureSize]
  inputs: Int32Array; // [T*B]: start, w1..wn, then padding (0)
  rows: Int32Array; // [N] flat indices t*B+b of the scored positions
  rowCaption: Int32Array; // [N] the caption b of each
  targets: Int32Array; // [N]
  /**
   * [B] the weight of each caption's terms in the loss (src/train/objective.ts): 1 = plain
   * cross-entropy; padding columns 1 (they score nothing).
   */
  weights: Float32Array;
  /**
   * The targets were drawn by sampling (src/decode/sample.ts; self-critical training): the loss is
   * then of the distribution they were drawn from, the model's renormalised over the words sampling
   * allows (src/decode/candidates.ts refusedWords; a caption's first word is row t = 0, rows[i] < B).
   */
  sampled?: boolean;
  /** Training only (dropout > 0): inverted-dropout masks by site, [rows, width] (src/train/dropout.ts). */
  masks: Record<string, HostMask>;
}
