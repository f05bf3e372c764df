// A trained decoder ready to caption: a checkpoint read from disk (src/model/checkpoint.ts) and run on
// ONNX Runtime or TensorFlow.js, chosen by the rules of every part (src/engine/choice.ts).
import * as tf from '@tensorflow/tfjs';
import { debug } from '../log.js';
import type { BaseSizes, DecoderSpec, Weights } from '../model/decoder.js';
import {
  checkpointDecoder,
  readCheckpoint,
  type CaptionModel,
  type CheckpointMeta,
  type ReadCheckpointOptions,
} from '../model/checkpoint.js';
import { engineToTry, onnxFailed, type EngineChoice, type EngineName } from './choice.js';
import { OnnxStepDecoder } from './onnx/step-decoder.js';
import { syncSessionUnavailableReason } from './onnx/sync-session.js';
import { TfjsDecoder } from './tfjs-decoder.js';
import { ONNX_INSTALL_HINT, warnOnnxMissing } from './onnx/runtime.js';

/**
 * engine 'auto' (default): ONNX Runtime where tfjs runs on the host (WASM, cpu: native kernels, one
 * graph call per step) and synchronous ONNX sessions load; tfjs otherwise (native backends keep the
 * data on their device).
 */
export function openDecoder(
  spec: DecoderSpec,
  sizes: BaseSizes,
  weights: Weights,
  opts: { engine?: EngineChoice; backend?: string } = {},
): { model: CaptionModel; engine: EngineName } {
  const requested = opts.engine ?? 'auto';
  // ONNX Runtime's own availability is what building the sessions finds out, below.
  const decision = engineToTry(requested, { part: 'decoding', backend: opts.backend ?? tf.getBackend(), unavailable: () => undefined });
  if (decision.name === 'onnx') {
    let model: OnnxStepDecoder | undefined;
    let why: string | undefined;
    try {
      model = OnnxStepDecoder.create(spec, sizes, weights);
    } catch (e) {
      if (requested === 'onnx') throw e;
      why = `its graphs could not be built: ${(e as Error).message}`; // auto: tfjs runs any decoder
    }
    if (model) return { model, engine: 'onnx' };
    why ??= syncSessionUnavailableReason() ?? 'unknown reason';
    onnxFailed(requested, { part: 'decoding', why, message: `the onnx decoding engine is not available: ${why}`, hint: ONNX_INSTALL_HINT });
    warnOnnxMissing(); // says nothing when ONNX Runtime loads and only its sessions' binding is missing
    debug(`decoding on tfjs: ONNX Runtime sessions are unavailable (${why})`);
  }
  return { model: new TfjsDecoder(spec, sizes, weights), engine: 'tfjs' };
}

/** The model and its meta from a checkpoint folder, on the engine `opts.engine` asks for (default auto). */
export async function loadCheckpoint(
  dir: string,
  opts: { engine?: EngineChoice } & ReadCheckpointOptions = {},
): Promise<{ meta: CheckpointMeta; model: CaptionModel; engine: EngineName; trainImages?: string[] }> {
  const { meta, weights, trainImages } = await readCheckpoint(dir, { trainImages: opts.trainImages });
  const { spec, sizes } = checkpointDecoder(meta, dir);
  const { model, engine } = openDecoder(spec, sizes, weights, { engine: opts.engine });
  return { meta, model, engine, trainImages };
}
