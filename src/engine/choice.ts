// The one place that chooses between ONNX Runtime and TensorFlow.js, for each part of capgen that has
// both: the image encoder (src/features/engine.ts), the training step (src/train/step.ts) and decoding
// (src/engine/decoder.ts). Every part takes the same `--engine auto|onnx|tfjs` and follows the same
// rules: `tfjs` never tries ONNX Runtime; `onnx` that cannot run is a BACKEND error with a hint;
// `auto` falls back to tfjs and says why (one warning per process when ONNX Runtime is missing).
import { CapgenError } from '../errors.js';
import { hostBackend } from './tfjs-ops.js';
import { ONNX_INSTALL_HINT, loadOnnxRuntime, onnxUnavailableReason, warnOnnxMissing } from './onnx/runtime.js';

import { ENGINE_CHOICES, type EngineChoice, type EngineName } from './choices.js';
export { ENGINE_CHOICES, type EngineChoice, type EngineName };
/** The parts of capgen that run on either engine. */
export type EnginePart = 'features' | 'training' | 'decoding';

/** An engine chosen for a part, and why (for the log line that names it). */
export interface EngineDecision {
  name: EngineName;
  why: string;
  /** tfjs because ONNX Runtime (or the part of it this needs) is unavailable; `why` is the reason. */
  unavailable?: true;
}

/** How error messages name each part's engine ("the onnx training engine is not available"). */
const PART_ENGINE: Record<EnginePart, string> = {
  features: 'onnx engine',
  training: 'onnx training engine',
  decoding: 'onnx decoding engine',
};

/** USAGE error for a value outside ENGINE_CHOICES (config files and programmatic callers; commander checks flags). */
export function checkEngineChoice(requested: string): EngineChoice {
  if (!(ENGINE_CHOICES as readonly string[]).includes(requested))
    throw new CapgenError('USAGE', `unknown engine '${requested}'`, { hint: `choose ${ENGINE_CHOICES.join(', ')}` });
  return requested as EngineChoice;
}

/**
 * The first half of a choice: whether to try ONNX Runtime for `part`. tfjs when asked for; under `auto`
 * also on a native tfjs backend when `backend` is given (tfjs-node(-gpu): native kernels already, the
 * data on the device) and when ONNX Runtime is unavailable (`unavailable` gives the reason; default:
 * onnxruntime-node does not load), with one warning per process. `onnx` that is unavailable throws.
 * An 'onnx' answer still has to build its graphs: a failure there goes to `onnxFailed`.
 */
export function engineToTry(
  requested: EngineChoice,
  opts: { part: EnginePart; backend?: string; unavailable?: () => string | undefined },
): EngineDecision {
  checkEngineChoice(requested);
  if (requested === 'tfjs') return { name: 'tfjs', why: 'asked for' };
  if (requested === 'auto' && opts.backend !== undefined && !hostBackend(opts.backend))
    return { name: 'tfjs', why: `native TensorFlow (${opts.backend})` };
  const reason = opts.unavailable
    ? opts.unavailable()
    : loadOnnxRuntime()
      ? undefined
      : (onnxUnavailableReason() ?? 'onnxruntime-node did not load');
  if (reason === undefined)
    return { name: 'onnx', why: requested === 'onnx' ? 'asked for' : `fastest on ${opts.backend === 'wasm' ? 'WASM' : 'cpu'} hosts` };
  if (requested === 'onnx')
    throw new CapgenError('BACKEND', `the ${PART_ENGINE[opts.part]} is not available: ${reason}`, { hint: ONNX_INSTALL_HINT });
  warnOnnxMissing(); // says nothing when ONNX Runtime loads and only a part of it is missing
  return { name: 'tfjs', why: reason, unavailable: true };
}

/**
 * The second half: ONNX Runtime loaded but could not run this part (`why`). Under `onnx` a BACKEND
 * error (`message` overrides the default "the onnx ... engine cannot run this: why"), under `auto` tfjs.
 */
export function onnxFailed(
  requested: EngineChoice,
  opts: { part: EnginePart; why: string; message?: string; hint?: string },
): EngineDecision {
  if (requested === 'onnx')
    throw new CapgenError('BACKEND', opts.message ?? `the ${PART_ENGINE[opts.part]} cannot run this: ${opts.why}`, {
      hint: opts.hint ?? 'use --engine tfjs (or auto)',
    });
  return { name: 'tfjs', why: opts.why };
}
