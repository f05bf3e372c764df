// The contract between a trained caption model and the search code (greedy/beam) in src/decode:
// any architecture that can take one step of next-word prediction can be decoded.
import type * as tf from '@tensorflow/tfjs';

export interface StepDecoder {
  readonly vocabSize: number;
  /** features [B, ...featureShape] -> initial recurrent state: tensors whose first dimension is B. */
  initState(features: tf.Tensor): tf.Tensor[];
  /**
   * One step. tokens [B] int32 (the previous word; the start id first), state from initState or
   * the previous step, at 0-based `position` -> logProbs [B, V] (log-softmax over the vocabulary),
   * the next state, and for attending decoders this step's attention [B, regions].
   * Synchronous tensor work: callers wrap it in tf.tidy and keep what they need.
   */
  step(tokens: tf.Tensor1D, state: tf.Tensor[], position?: number): { logProbs: tf.Tensor2D; state: tf.Tensor[]; attention?: tf.Tensor2D };
}
