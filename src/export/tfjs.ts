// `capgen export --format tfjs`: the encoder as a tfjs layers model, the decoder as two tfjs graph
// models (init, step), and capgen-model.json, in one folder:
//   capgen-model.json   encoder/model.json + weights.bin   decoder-init/...   decoder-step/...
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { recordDecoderGraphs, GRAPH_WEIGHTS_FILE, type GraphModelFiles } from './decoder-graphs.js';
import { encoderLayersModel, layersModelFiles, LAYERS_WEIGHTS_FILE } from './encoder.js';
import { buildManifest, MANIFEST_FILE, type ExportManifest } from './manifest.js';
import type { ExportSource, WrittenFile } from './types.js';

export const TFJS_PATHS = { encoder: 'encoder/model.json', init: 'decoder-init/model.json', step: 'decoder-step/model.json' } as const;

async function writeModel(dir: string, rel: string, files: GraphModelFiles, weightsFile: string): Promise<WrittenFile[]> {
  const json = path.join(dir, rel);
  const bin = path.join(path.dirname(json), weightsFile);
  await fs.mkdir(path.dirname(json), { recursive: true });
  await writeFileAtomic(bin, files.weightData);
  await writeJsonAtomic(json, files.modelJson);
  return [
    { path: rel, bytes: (await fs.stat(json)).size },
    { path: path.join(path.dirname(rel), weightsFile), bytes: files.weightData.byteLength },
  ];
}

/** Writes the tfjs files into `dir` (an empty folder); returns the manifest and what was written. */
export async function writeTfjsModel(dir: string, src: ExportSource): Promise<{ manifest: ExportManifest; files: WrittenFile[] }> {
  const graphs = recordDecoderGraphs(src.spec, src.sizes, src.weights);
  const encoder = await encoderLayersModel(src.meta.encoder);
  let encoderFiles: GraphModelFiles;
  try {
    encoderFiles = await layersModelFiles(encoder);
  } finally {
    encoder.dispose();
  }
  const written = [
    ...(await writeModel(dir, TFJS_PATHS.encoder, encoderFiles, LAYERS_WEIGHTS_FILE)),
    ...(await writeModel(dir, TFJS_PATHS.init, graphs.init, GRAPH_WEIGHTS_FILE)),
    ...(await writeModel(dir, TFJS_PATHS.step, graphs.step, GRAPH_WEIGHTS_FILE)),
  ];
  const { initInput, ...step } = graphs.names;
  const manifest = buildManifest({
    meta: src.meta,
    checkpointDir: src.checkpointDir,
    format: 'tfjs',
    encoderPath: TFJS_PATHS.encoder,
    decoder: {
      architecture: src.meta.architecture,
      featureShape: graphs.featureShape,
      init: { path: TFJS_PATHS.init, input: initInput, outputs: graphs.names.inputs.state },
      step: { ...step, path: TFJS_PATHS.step },
    },
    decoding: src.decoding,
  });
  await writeJsonAtomic(path.join(dir, MANIFEST_FILE), manifest);
  written.push({ path: MANIFEST_FILE, bytes: (await fs.stat(path.join(dir, MANIFEST_FILE))).size });
  return { manifest, files: written };
}
