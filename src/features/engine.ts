// Which engine computes the image features: TensorFlow.js (the reference, any backend) or ONNX
// Runtime (onnxruntime-node, optional; several times faster on CPUs). Both give the same features.
import { ONNX_INSTALL_HINT, loadOnnxRuntime, onnxUnavailableReason, onnxVersion, warnOnnxMissing } from './onnx/runtime.js';
import { CapgenError, isCapgenError } from '../errors.js';
import type { FeaturesConfig } from './config.js';
import type { BatchEncoder, Encoder } from './encoder.js';
import type { EncoderIdentity } from '../run/formats.js';
import { KERAS_APPS, isKerasApp } from './encoders/keras-apps.js';
import { createEncoder, loadEncoder } from './load-encoder.js';
import { createOnnxEncoder, onnxGraphFor, onnxGraphForIdentity, type OnnxEncoder } from './onnx/onnx-encoder.js';

export type EngineChoice = 'auto' | 'tfjs' | 'onnx';
export const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', 'tfjs', 'onnx'];

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
  if (!ENGINE_CHOICES.includes(requested))
    throw new CapgenError('USAGE', `unknown engine '${requested}'`, { hint: `choose ${ENGINE_CHOICES.join(', ')}` });
  if (requested === 'tfjs' || needsTfjsValidation(config)) return { engine: 'tfjs', encoder: await createEncoder(config), label: 'tfjs' };
  let why: string;
  if (!loadOnnxRuntime()) {
    why = onnxUnavailableReason() ?? 'onnxruntime-node did not load';
    if (requested === 'onnx') throw new CapgenError('BACKEND', `the onnx engine is not available: ${why}`, { hint: ONNX_INSTALL_HINT });
    warnOnnxMissing();
  } else {
    const graph = await onnxGraphFor(config); // CapgenErrors (weights missing, ...) are the user's either way
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
    if (requested === 'onnx')
      throw new CapgenError('BACKEND', `the onnx engine cannot run this encoder: ${why}`, { hint: 'use --engine tfjs (or auto)' });
  }
  return { engine: 'tfjs', encoder: await createEncoder(config), label: `tfjs (onnx not used: ${why})` };
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
  let why = 'tfjs asked for';
  if (opts.engine !== 'tfjs') {
    if (!loadOnnxRuntime()) {
      why = onnxUnavailableReason() ?? 'onnxruntime-node did not load';
      if (opts.engine !== 'onnx') warnOnnxMissing();
    } else {
      const graph = await onnxGraphForIdentity(identity, { weightsPath: opts.weightsPath });
      if ('model' in graph) {
        const encoder = await createOnnxEncoder(graph.model, identity);
        return { encoder, label: onnxLabel(encoder) };
      }
      why = graph.reason;
    }
    if (opts.engine === 'onnx')
      throw new CapgenError('BACKEND', `the onnx engine cannot run this encoder: ${why}`, { hint: 'use --engine tfjs (or auto)' });
  }
  return { encoder: await loadEncoder(identity, { weightsPath: opts.weightsPath }), label: `tfjs (onnx not used: ${why})` };
}
