// `capgen export --format web`: a static folder that captions images entirely in the browser:
//   index.html   capgen.js (TensorFlow.js + its WASM backend + capgen-model.js + the page, one module)
//   tfjs-backend-wasm*.wasm   capgen-model.js (the decoding module alone, for other pages)   model/ (the tfjs export)
// Any static file host serves it; nothing is uploaded anywhere.
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encoderSourceName } from '../features/encoder-location.js';
import { writeFileAtomic } from '../io/atomic.js';
import { writeTfjsModel } from './tfjs.js';
import type { ExportSource, WrittenFile } from './types.js';
import { PAGE_LOGIC, renderIndexHtml } from './web/page.js';

/** The page loads these .wasm builds (SIMD where the browser has it, plain otherwise; threads need cross-origin isolation, which a static host rarely sets). */
const WASM_FILES = ['tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm.wasm'];

export const MODEL_DIR = 'model';

/** MobileNet encoder + merge decoder should stay under this (a download people will wait for). */
export const WEB_SIZE_BUDGET_BYTES = 25 * 2 ** 20;

const require = createRequire(import.meta.url);

function packageFile(pkg: string, rel: string): string {
  return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), rel);
}

/** The compiled decoding module (dist/export/web/caption-model.js): shipped as it is. */
async function captionModelSource(): Promise<string> {
  const file = fileURLToPath(new URL('./web/caption-model.js', import.meta.url));
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    throw new Error(`${file} is missing: build capgen first (npm run build)`);
  }
}

export async function writeWebFolder(dir: string, src: ExportSource): Promise<{ files: WrittenFile[] }> {
  const { manifest, files: modelFiles } = await writeTfjsModel(path.join(dir, MODEL_DIR), src);
  const files: WrittenFile[] = modelFiles.map((f) => ({ ...f, path: path.join(MODEL_DIR, f.path) }));
  const write = async (rel: string, data: string | Uint8Array) => {
    await writeFileAtomic(path.join(dir, rel), data);
    files.push({ path: rel, bytes: typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength });
  };
  const module = await captionModelSource();
  const tfjs = await fs.readFile(packageFile('@tensorflow/tfjs', 'dist/tf.min.js'), 'utf8');
  const wasmBackend = await fs.readFile(packageFile('@tensorflow/tfjs-backend-wasm', 'dist/tf-backend-wasm.min.js'), 'utf8');
  // One module script: the UMD bundles set globalThis.tf (and tf.wasm); the decoding module and the page follow.
  // TensorFlow.js' bundled regenerator assigns an undeclared global; module code is strict, where that
  // throws and the bundle falls back to Function(...), which a Content-Security-Policy without 'unsafe-eval' blocks.
  const prelude = 'var regeneratorRuntime;';
  await write('capgen.js', [prelude, tfjs, wasmBackend, module.replace(/^\/\/# sourceMappingURL=.*$/m, ''), PAGE_LOGIC].join('\n;\n'));
  await write('capgen-model.js', module.replace(/^\/\/# sourceMappingURL=.*$/m, ''));
  for (const wasm of WASM_FILES) await write(wasm, await fs.readFile(packageFile('@tensorflow/tfjs-backend-wasm', `dist/${wasm}`)));
  const encoderName = src.meta.encoder.source ? encoderSourceName(src.meta.encoder.source) : src.meta.encoder.architecture;
  await write(
    'index.html',
    renderIndexHtml({
      title: 'capgen: caption an image in your browser',
      modelLine: `${manifest.decoder.architecture} · ${encoderName} · ${manifest.vocabulary.length} words`,
    }),
  );
  return { files };
}
