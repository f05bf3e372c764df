// Captioning with exported folders in Node, as a program without capgen would: the image as a browser
// canvas gives it, and the ONNX files in ONNX Runtime driven by capgen-model.js's search loop (the one
// the web page ships) through small adapters, so no capgen model code is involved.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { createCaptioner, prepareImage, type CaptionOutput, type ModelManifest } from '../../src/export/web/caption-model.js';
import { SyncSession } from '../../src/engine/onnx/sync-session.js';
import { loadOnnxRuntime, type OrtTensor } from '../../src/engine/onnx/runtime.js';

/** Full-size RGBA as a browser canvas gives it, then the module's own resize. */
export async function pixelsOf(file: string, image: ModelManifest['image']): Promise<Uint8Array> {
  const { data, info } = await sharp(file).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return prepareImage(data, info.width, info.height, image);
}

export interface OnnxExport {
  manifest: ModelManifest;
  caption(file: string, opts: { beamSize: number }): Promise<CaptionOutput>;
  release(): Promise<void>;
}

/** An `export --format onnx` folder: encoder.onnx on raw pixels, then the decoder graphs step by step. */
export async function openOnnxExport(dir: string): Promise<OnnxExport> {
  const ort = loadOnnxRuntime() as NonNullable<ReturnType<typeof loadOnnxRuntime>>;
  const toOrt = (t: tf.Tensor): OrtTensor =>
    t.dtype === 'int32'
      ? new ort.Tensor('int32', t.dataSync() as Int32Array, t.shape)
      : new ort.Tensor('float32', t.dataSync() as Float32Array, t.shape);
  const toTf = (t: OrtTensor) => tf.tensor(t.data as Float32Array, [...t.dims]);
  const graph = (file: string) => {
    const session = SyncSession.open(readFileSync(path.join(dir, file))) as SyncSession;
    return {
      execute(feeds: Record<string, tf.Tensor>, names: string[]) {
        const out = session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, toOrt(v)])));
        return names.map((n) => toTf(out[n]));
      },
    };
  };
  const manifest = JSON.parse(readFileSync(path.join(dir, 'capgen-model.json'), 'utf8')) as ModelManifest;
  const encoder = await ort.InferenceSession.create(readFileSync(path.join(dir, manifest.encoder.path)));
  const [h, w] = manifest.image.inputSize;
  let features: tf.Tensor | undefined;
  // encoder.onnx takes raw pixels (its preprocessing is inside): the adapter hands the search its output.
  const models = { encoder: { predict: () => features }, init: graph(manifest.decoder.init.path), step: graph(manifest.decoder.step.path) };
  const captioner = createCaptioner(tf, manifest, models as never);
  return {
    manifest,
    async caption(file, opts) {
      const pixels = await pixelsOf(file, manifest.image);
      const out = await encoder.run({ [encoder.inputNames[0]]: new ort.Tensor('float32', Float32Array.from(pixels), [1, h, w, 3]) });
      features = toTf(out[encoder.outputNames[0]]);
      try {
        return captioner.caption(pixels, opts);
      } finally {
        features.dispose();
      }
    },
    release: () => encoder.release(),
  };
}
