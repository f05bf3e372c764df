// A worker thread of the embed pool: its own TensorFlow.js backend and its own copy of the encoder,
// rebuilt from the recorded identity. Receives decoded pixel batches, returns feature rows.
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, type BackendChoice } from '../backend/index.js';
import type { EncoderIdentity } from '../run/formats.js';
import { embedPixels, loadEncoder } from './load-encoder.js';

interface InitData {
  identity: EncoderIdentity;
  backend: BackendChoice;
  weights?: string;
}

export interface EmbedRequest {
  id: number;
  /** n images of [h, w, 3] uint8, back to back. */
  pixels: Uint8Array;
  count: number;
  size: [number, number];
}

const init = workerData as InitData;
const port = parentPort;
if (!port) throw new Error('embed-worker must run in a worker thread');

const ready = (async () => {
  // Each worker is one core of the pool: one WASM thread apiece.
  await initBackend(init.backend, { threads: 1 });
  return loadEncoder(init.identity, { weightsPath: init.weights === 'random' ? undefined : init.weights });
})();

ready.then(
  () => port.postMessage({ type: 'ready' }),
  (e: Error) => port.postMessage({ type: 'error', message: e.message }),
);

port.on('message', async (req: EmbedRequest) => {
  try {
    const encoder = await ready;
    const per = req.size[0] * req.size[1] * 3;
    const images = Array.from({ length: req.count }, (_, i) => req.pixels.subarray(i * per, (i + 1) * per));
    const rows = embedPixels(encoder, images, req.size);
    port.postMessage({ type: 'result', id: req.id, rows }, [rows.buffer as ArrayBuffer]);
  } catch (e) {
    port.postMessage({ type: 'result', id: req.id, error: (e as Error).message });
  }
});
