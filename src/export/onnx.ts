// `capgen export --format onnx`: the encoder and the decoder's init/step graphs as ONNX files that
// ONNX Runtime (or any ONNX runtime at opset 18) runs, and capgen-model.json:
//   capgen-model.json   encoder.onnx   decoder-init.onnx   decoder-step.onnx
// encoder.onnx takes raw RGB pixels [N, H, W, 3] (0..255, resized as the manifest's image.resize says)
// and does the preprocessing itself; the decoder graphs are those ONNX Runtime decoding runs in capgen
// (src/engine/onnx/decode-graphs.ts), with the tensor names of the manifest.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CapgenError } from '../errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { buildDecoderGraphs } from '../engine/onnx/decode-graphs.js';
import { layersGraph } from '../features/onnx/layers-graph.js';
import { encodeOnnxModel, type OnnxModel } from '../engine/onnx/proto.js';
import type { LayersModelJson } from '../features/onnx/layers-json.js';
import { encoderLayersModel, layersModelFiles } from './encoder.js';
import { buildManifest, decoderTensorNames, MANIFEST_FILE, type ExportManifest } from './manifest.js';
import type { ExportSource, WrittenFile } from './types.js';

export const ONNX_PATHS = { encoder: 'encoder.onnx', init: 'decoder-init.onnx', step: 'decoder-step.onnx' } as const;

/** The encoder as ONNX: its tfjs layers model (the one the tfjs export writes) through the layers converter. */
async function encoderGraph(src: ExportSource): Promise<OnnxModel> {
  const identity = src.meta.encoder;
  const model = await encoderLayersModel(identity);
  let files: { modelJson: Record<string, unknown>; weightData: Uint8Array };
  try {
    files = await layersModelFiles(model);
  } finally {
    model.dispose();
  }
  // The layers model ends at the feature (pooling included): convert it whole, preprocessing in front.
  const r = layersGraph({
    json: files.modelJson as unknown as LayersModelJson,
    weightData: files.weightData,
    preprocess: identity.preprocess,
    pooling: 'none',
  });
  if (!r.ok)
    throw new CapgenError('USAGE', `the '${identity.architecture}' encoder has no ONNX graph: ${r.reason}`, {
      hint: 'export --format tfjs works for it',
    });
  return r.model;
}

export async function writeOnnxModel(dir: string, src: ExportSource): Promise<{ manifest: ExportManifest; files: WrittenFile[] }> {
  const graphs = buildDecoderGraphs(src.spec, src.sizes, src.weights);
  const parts: [string, Uint8Array][] = [
    [ONNX_PATHS.encoder, encodeOnnxModel(await encoderGraph(src))],
    [ONNX_PATHS.init, encodeOnnxModel(graphs.init)],
    [ONNX_PATHS.step, encodeOnnxModel(graphs.step)],
  ];
  const files: WrittenFile[] = [];
  for (const [rel, bytes] of parts) {
    await writeFileAtomic(path.join(dir, rel), bytes);
    files.push({ path: rel, bytes: bytes.byteLength });
  }
  const { initInput, ...step } = decoderTensorNames(graphs.stateCount, graphs.attention);
  const manifest = buildManifest({
    meta: src.meta,
    checkpointDir: src.checkpointDir,
    format: 'onnx',
    encoderPath: ONNX_PATHS.encoder,
    encoderFormat: 'onnx',
    decoder: {
      architecture: src.meta.architecture,
      featureShape: src.spec.featureShape(src.sizes),
      init: { path: ONNX_PATHS.init, input: initInput, outputs: step.inputs.state },
      step: { ...step, path: ONNX_PATHS.step },
    },
    decoding: src.decoding,
  });
  await writeJsonAtomic(path.join(dir, MANIFEST_FILE), manifest);
  files.push({ path: MANIFEST_FILE, bytes: (await fs.stat(path.join(dir, MANIFEST_FILE))).size });
  return { manifest, files };
}
