// `capgen export`: a checkpoint -> files that run without capgen. One module per format (tfjs.ts,
// web.ts; onnx.ts), all writing the same capgen-model.json (manifest.ts). The output folder is
// replaced whole: an interrupted export leaves the previous one (or nothing), never half of one; a
// folder that holds what the export reads is never replaced, nor one that capgen did not make without
// --overwrite (src/run/overwrite.ts).
import { initBackend } from '../backend/index.js';
import { CapgenError } from '../errors.js';
import { info } from '../log.js';
import { decodeOptionsFor, readTrainedCheckpoint } from '../captioner/captioner.js';
import { replaceDirAtomic } from '../io/atomic.js';
import { guardOutputFolder, type ReadInput } from '../run/overwrite.js';
import { isCapgenExport } from './manifest.js';
import type { ExportSource, WrittenFile } from './types.js';
import { writeOnnxModel } from './onnx.js';
import { writeTfjsModel } from './tfjs.js';
import { WEB_SIZE_BUDGET_BYTES, writeWebFolder } from './web.js';

import { EXPORT_FORMATS, type ExportFormat } from './types.js';
export { EXPORT_FORMATS, type ExportFormat } from './types.js';

export interface ExportConfig {
  checkpointDir: string;
  format: ExportFormat;
  outDir: string;
  /** Replace an outDir that holds something other than an earlier capgen export. */
  overwrite: boolean;
  /** Decoding defaults written into the manifest. */
  beamSize: number;
  lengthPenalty: number;
  /** No n words in a row twice in a caption (0 = off). */
  blockNgrams: number;
}

export interface ExportResult {
  outDir: string;
  format: ExportFormat;
  files: WrittenFile[];
  totalBytes: number;
  /** Web only: the size budget and whether the folder fits it. */
  budgetBytes?: number;
}

const FORMATS: Record<ExportFormat, (dir: string, src: ExportSource) => Promise<{ files: WrittenFile[] }>> = {
  tfjs: writeTfjsModel,
  onnx: writeOnnxModel,
  web: writeWebFolder,
};

export async function loadExportSource(
  config: Pick<ExportConfig, 'checkpointDir' | 'beamSize' | 'lengthPenalty' | 'blockNgrams'>,
): Promise<ExportSource> {
  const { meta, spec, sizes, weights } = await readTrainedCheckpoint(config.checkpointDir);
  return { checkpointDir: config.checkpointDir, meta, spec, sizes, weights, decoding: decodeOptionsFor(meta, config) };
}

export async function runExport(config: ExportConfig): Promise<ExportResult> {
  const write = FORMATS[config.format];
  if (!write) throw new CapgenError('USAGE', `unknown export format '${config.format}'`, { hint: `choose ${EXPORT_FORMATS.join(', ')}` });
  const src = await loadExportSource(config);
  const inputs: ReadInput[] = [{ path: config.checkpointDir, what: 'the checkpoint being exported' }];
  if (src.meta.encoder.source) inputs.push({ path: src.meta.encoder.source, what: "the encoder's model.json" });
  await guardOutputFolder({
    dir: config.outDir,
    flag: '--out',
    inputs,
    overwrite: config.overwrite,
    earlierOutput: { is: isCapgenExport, name: 'an earlier capgen export' },
  });
  // Building the encoder's layers model makes a few tensors (WASM: what caption runs on; the pure-JS
  // backend would print tfjs' 'install tfjs-node' banner).
  await initBackend('wasm');
  info(
    `export: ${config.format} from ${config.checkpointDir} (${src.meta.architecture}, epoch ${src.meta.epoch}, encoder ${src.meta.encoder.architecture}) -> ${config.outDir}`,
  );
  let files: WrittenFile[] = [];
  await replaceDirAtomic(config.outDir, async (tmp) => {
    files = (await write(tmp, src)).files;
  });
  const totalBytes = files.reduce((n, f) => n + f.bytes, 0);
  return {
    outDir: config.outDir,
    format: config.format,
    files,
    totalBytes,
    ...(config.format === 'web' ? { budgetBytes: WEB_SIZE_BUDGET_BYTES } : {}),
  };
}
