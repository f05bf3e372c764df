// The contract between the HTTP layer and whatever produces captions: the real checkpoint-backed
// captioner (captioner.ts) in production, a small fake in the HTTP tests.

export interface BeamCaption {
  caption: string;
  /** Total log-probability of the beam (length-normalised when the decoder applies a penalty). */
  score: number;
}

export interface CaptionResult {
  /** The best caption under the requested decoding (beam size 1 = greedy). */
  caption: string;
  /** The top beams, best first; present when beamSize > 1. */
  beams?: BeamCaption[];
}

export interface CaptionerInfo {
  /** The model's public name: the run folder's base name or `--name`, architecture and epoch; never a path. */
  model: string;
  /** The encoder that turns pixels into features (architecture, model folder name, layer); never a path. */
  encoder: string;
  /** The compute backend line (`describeBackend`). */
  backend: string;
}

export interface Captioner {
  /** `image` holds an encoded image that already passed validation (see image-check.ts). */
  caption(image: Buffer, opts: { beamSize: number }): Promise<CaptionResult>;
  describe(): CaptionerInfo;
  /** Frees the model's tensors (called when the server closes). */
  dispose?(): void;
}
