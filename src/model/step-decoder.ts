// The contract between a trained caption model and the search code (greedy/beam) in src/decode:
// any architecture that can take one step of next-word prediction can be decoded.
import type * as tf from '@tensorflow/tfjs';

export interface StepDecoder {
  readonly vocabSize: number;
  /** features [B, D] -> initial recurrent state: tensors whose first dimension is B. */
  initState(features: tf.Tensor2D): tf.Tensor[];
  /**
   * One step. tokens [B] int32 (the previous word; the start id first), state from initState or
   * the previous step -> logProbs [B, V] (log-softmax over the vocabulary) and the next state.
   * Synchronous tensor work: callers wrap it in tf.tidy and keep what they need.
   */
  step(tokens: tf.Tensor1D, state: tf.Tensor[]): { logProbs: tf.Tensor2D; state: tf.Tensor[] };
}
