// A gradient replica in a worker thread: its own backend instance (one WASM thread) and copy of the
// model. Each request reads the current weights from the optimizer's shared memory, computes its
// shard's loss and gradients (or a validation batch's loss) and writes the gradients to shared memory.
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { readInto } from '../backend/host-io.js';
import { initBackend, type BackendChoice } from '../backend/index.js';
import type { BaseSizes, Weights } from '../model/decoder.js';
import { decoderFor } from '../model/registry.js';
import { TfjsDecoder } from '../engine/tfjs-decoder.js';
import { addDropoutMasks, disposeBatch, toTensors, type HostBatch } from './batches.js';
import type { ShardDropout } from './dropout.js';
import { evaluateBatch, lossAndGrads } from './objective.js';

export interface ReplicaInit {
  backend: BackendChoice;
  architecture: string;
  sizes: BaseSizes;
  labelSmoothing: number;
  /** The optimizer's weights (SharedArrayBuffer views), in the decoder's weight order. */
  weights: Float32Array[];
  /** This replica's gradient output (SharedArrayBuffer views), in the decoder's weight order. */
  grads: Float32Array[];
}

/**
 * version: the optimizer's step count; the replica reloads the shared weights when it changes.
 * dropout: the replica draws its shard's masks itself (in parallel with the other shards).
 */
export type ReplicaRequest = { id: number; kind: 'grads' | 'evaluate'; version: number; batch: HostBatch; dropout?: ShardDropout };
export type ReplicaReply = { id: number; loss: number; correct: number; count: number } | { id: number; error: string };

const init = workerData as ReplicaInit;
const port = parentPort;
if (!port) throw new Error('replica-worker must run in a worker thread');

let loadedVersion = -1;
const spec = decoderFor(init.architecture);
if (!spec) throw new Error(`replica-worker: unknown decoder '${init.architecture}'`);
/** The optimizer's shared weights by name; the model copies them in (they change between steps). */
const sharedWeights: Weights = Object.fromEntries(spec.weightShapes(init.sizes).map(([name], k) => [name, init.weights[k]]));

const ready = (async () => {
  await initBackend(init.backend, { threads: 1 });
  return new TfjsDecoder(spec, init.sizes, sharedWeights);
})();

ready.then(
  () => port.postMessage({ ready: true }),
  (e: Error) => port.postMessage({ ready: false, error: e.message }),
);

port.on('message', async (req: ReplicaRequest) => {
  try {
    const model = await ready;
    if (req.version !== loadedVersion) {
      model.setWeights(sharedWeights);
      loadedVersion = req.version;
    }
    if (req.dropout) addDropoutMasks(req.batch, req.dropout);
    const batch = toTensors(req.batch, model.spec.featureShape(model.sizes));
    try {
      if (req.kind === 'evaluate') {
        const r = evaluateBatch(model, batch);
        port.postMessage({ id: req.id, loss: r.loss, correct: r.correct, count: batch.count } satisfies ReplicaReply);
        return;
      }
      const r = lossAndGrads(model, batch, { labelSmoothing: init.labelSmoothing });
      r.grads.forEach((g, k) => readInto(g, init.grads[k]));
      tf.dispose(r.grads);
      port.postMessage({ id: req.id, loss: r.loss, correct: r.correct, count: batch.count } satisfies ReplicaReply);
    } finally {
      disposeBatch(batch);
    }
  } catch (e) {
    port.postMessage({ id: req.id, error: (e as Error).message } satisfies ReplicaReply);
  }
});
