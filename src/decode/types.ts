// Settings and results of caption decoding (greedy and beam search), shared by eval, caption and serve.

export interface DecodeOptions {
  /** Most words in a caption (without start/end): the checkpoint's maxCaptionLength. */
  maxLength: number;
  /** Beams kept per image; 1 is greedy search. */
  beamSize: number;
  /**
   * alpha in the length normalisation score = logProb / length^alpha, where length counts the
   * generated tokens including the end token. 0 ranks by plain total log-probability.
   */
  lengthPenalty: number;
  /**
   * Keep each word's attention over the image regions (decoders that attend), laid out on this
   * [H, W] grid. Unset, nothing is read back: eval over a whole split holds no maps it will not show.
   */
  attention?: { grid: [number, number] };
  /**
   * Block repeated n-grams: no n words in a row twice in a caption (src/decode/repeats.ts). Unset = 0,
   * off: the plain search; the commands pass theirs (default DEFAULT_DECODE_OPTIONS.blockNgrams).
   */
  blockNgrams?: number;
}

export const DEFAULT_DECODE_OPTIONS: Omit<DecodeOptions, 'maxLength'> & { blockNgrams: number } = {
  beamSize: 1, // greedy: what the Keras tutorial's generate_desc does, and the fastest
  // Beams ranked by log-probability / length^0.5. The total log-probability (0) favours short
  // captions: on the Flickr8k dev split, 0.5 raised beam-3 BLEU-4 and CIDEr-D for all three decoders
  // (merge 0.166 -> 0.169, attention 0.176 -> 0.180, transformer 0.176 -> 0.178; bench/README.md).
  lengthPenalty: 0.5,
  // No word pair twice in a caption ("a man in a red shirt and a red shirt"): on the Flickr8k dev split
  // it raised CIDEr-D of all 6 checkpoints tried (three decoders, greedy and beam 3) and BLEU-4 of 5
  // (attention beam 3: 0.189 -> 0.192; one other attention run -0.0005); trigrams gained less
  // (bench/README.md).
  blockNgrams: 2,
};

/** One hypothesis: word ids (no start/end/pad/unk) and how the model scored it. */
export interface Hypothesis {
  tokens: number[];
  /** Sum of the log-probabilities of the chosen tokens, the end token included when it was emitted. */
  logProb: number;
  /** logProb / length^alpha (equals logProb when alpha is 0). */
  score: number;
  /** Tokens generated, end token included. */
  length: number;
  /**
   * With DecodeOptions.attention: one row per word of `tokens`, the attention [H*W] (row-major over
   * the grid, summing to 1) of the step that chose that word.
   */
  attention?: number[][];
}

/** The decoding of one image: the best hypothesis, and with beam search all final beams, best first. */
export interface DecodedCaption extends Hypothesis {
  beams: Hypothesis[];
  /** [H, W] of the attention rows, when they were asked for. */
  attentionGrid?: [number, number];
}

/** "greedy" or "beam 3, length penalty 0.5", then ", repeated 2-grams blocked" when they are: for logs and reports. */
export function describeDecoding(d: Pick<DecodeOptions, 'beamSize' | 'lengthPenalty' | 'blockNgrams'>): string {
  const search = d.beamSize === 1 ? 'greedy' : `beam ${d.beamSize}, length penalty ${d.lengthPenalty}`;
  return d.blockNgrams ? `${search}, repeated ${d.blockNgrams}-grams blocked` : search;
}

/** score = logProb / length^alpha. */
export function normalisedScore(logProb: number, length: number, lengthPenalty: number): number {
  return lengthPenalty === 0 ? logProb : logProb / Math.pow(Math.max(length, 1), lengthPenalty);
}

/** Images decoded per model batch: big enough to amortise per-call overhead, small enough for memory. */
export const DEFAULT_DECODE_BATCH_SIZE = 256;
