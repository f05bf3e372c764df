// Which engine computes the image features: TensorFlow.js (the reference, any backend) or ONNX
// Runtime (onnxruntime-node, optional; several times faster on CPUs). Both give the same features.
import { engineToTry, onnxFailed, checkEngineChoice, ENGINE_CHOICES, type EngineChoice } from '../engine/choice.js';
import { onnxVersion } from '../engine/onnx/runtime.js';
import { isCapgenError } from '../errors.js';
import type { FeaturesConfig } from './config.js';
import type { BatchEncoder, Encoder } from './encoder.js';
import type { EncoderIdentity } from '../run/formats.js';
import { KERAS_APPS, isKerasApp } from './encoders/keras-apps.js';
import { createEncoder, loadEncoder } from './load-encoder.js';
import { createOnnxEncoder, onnxGraphFor, onnxGraphForIdentity, type OnnxEncoder } from './onnx/onnx-encoder.js';

export { ENGINE_CHOICES, type EngineChoice };

export type ChosenEngine =
  | { engine: 'onnx'; encoder: OnnxEncoder; /** e.g. 'onnx (onnxruntime-node 1.30.0, 2 threads)' */ label: string }
  | { engine: 'tfjs'; encoder: Encoder; label: string };

/** e.g. 'onnx (onnxruntime-node 1.30.0, 2 threads)' */
function onnxLabel(encoder: OnnxEncoder): string {
  return `onnx (onnxruntime-node ${onnxVersion()}, ${encoder.threads} thread${encoder.threads === 1 ? '' : 's'})`;
}

/** Flag values the tfjs path must reject with its own error message (the ONNX path does not re-check them). */
function needsTfjsValidation(config: FeaturesConfig): boolean {
  const fixed = config.encoder === 'resnet50' ? 'caffe' : isKerasApp(config.encoder) ? KERAS_APPS[config.encoder].preprocess : undefined;
  return (!!fixed && !!config.preprocess && config.preprocess !== fixed) || (config.encoder.endsWith('.json') && !config.preprocess);
}

/**
 * `auto`: ONNX Runtime when onnxruntime-node loads and the encoder has an ONNX graph, else tfjs (the
 * label says why). `onnx` that cannot run is a BACKEND error; `tfjs` never tries ONNX.
 */
export async function chooseEngine(config: FeaturesConfig, requested: EngineChoice = 'auto'): Promise<ChosenEngine> {
  checkEngineChoice(requested);
  if (requested === 'tfjs' || needsTfjsValidation(config)) return { engine: 'tfjs', encoder: await createEncoder(config), label: 'tfjs' };
  let decision = engineToTry(requested, { part: 'features' });
  if (decision.name === 'onnx') {
    const graph = await onnxGraphFor(config); // CapgenErrors (weights missing, ...) are the user's either way
    let why: string;
    if ('model' in graph) {
      try {
        const encoder = await createOnnxEncoder(graph.model, graph.identity);
        return { engine: 'onnx', encoder, label: onnxLabel(encoder) };
      } catch (e) {
        if (isCapgenError(e)) throw e;
        why = `onnxruntime-node refused the graph: ${String((e as Error).message ?? e).split('\n')[0]}`; // auto: tfjs still runs it
      }
    } else {
      why = graph.reason;
    }
    decision = onnxFailed(requested, { part: 'features', why, message: `the onnx engine cannot run this encoder: ${why}` });
  }
  return { engine: 'tfjs', encoder: await createEncoder(config), label: `tfjs (onnx not used: ${decision.why})` };
}

/**
 * Rebuilds the encoder recorded in a checkpoint (caption, serve) on the fastest engine that gives the
 * same features: ONNX Runtime when it loads and the recorded encoder has an ONNX graph whose identity
 * (weights hash, layer, sizes) is the recorded one, else tfjs (loadEncoder, which also says what is
 * wrong when the weights found differ). The label says which and why.
 */
export async function openEncoder(
  identity: EncoderIdentity,
  opts: { weightsPath?: string; engine?: EngineChoice } = {},
): Promise<{ encoder: Encoder | BatchEncoder; label: string }> {
  const requested = opts.engine ?? 'auto';
  let decision = engineToTry(requested, { part: 'features' });
  if (decision.name === 'onnx') {
    const graph = await onnxGraphForIdentity(identity, { weightsPath: opts.weightsPath });
    if ('model' in graph) {
      const encoder = await createOnnxEncoder(graph.model, identity);
      return { encoder, label: onnxLabel(encoder) };
    }
    decision = onnxFailed(requested, {
      part: 'features',
      why: graph.reason,
      message: `the onnx engine cannot run this encoder: ${graph.reason}`,
    });
  }
  const why = requested === 'tfjs' ? 'tfjs asked for' : decision.why;
  return { encoder: await loadEncoder(identity, { weightsPath: opts.weightsPath }), label: `tfjs (onnx not used: ${why})` };
}
