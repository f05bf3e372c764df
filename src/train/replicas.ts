// Data-parallel training steps. A batch is split into contiguous shards, one per replica: this
// thread computes shard 0 while worker threads (src/train/replica-worker.ts) compute the others on
// their own backend instances; the gradients, weighted by each shard's scored words, are summed and
// applied once by Adam. Dropout masks are drawn per caption (src/train/dropout.ts), so any number
// of replicas trains the same model up to float rounding; 1 replica runs everything in this thread.
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { withFloatViews } from '../backend/host-io.js';
import type { BackendChoice } from '../backend/index.js';
import type { TfjsDecoder } from '../engine/tfjs-decoder.js';
import { workerScript } from '../util/worker-script.js';
import { Adam } from './adam.js';
import type { DeviceAdam } from './adam-device.js';
import { addDropoutMasks, buildBatch, disposeBatch, toTensors, type HostBatch } from './batches.js';
import type { Example, TrainingData } from './data.js';
import { batchRows, readAheadAfter } from './feature-store.js';
import { evaluateBatch, lossAndGrads } from './objective.js';
import type { ReplicaInit, ReplicaReply, ReplicaRequest } from './replica-worker.js';

export interface StepResult {
  /** Mean loss over the batch's scored words. */
  loss: number;
  correct: number;
  /** Scored words. */
  count: number;
}

/** What one training step trains on, besides its picks and seed. */
export interface StepOptions {
  /** One loss weight per pick (default 1: plain cross-entropy; see src/train/objective.ts). */
  weights?: ArrayLike<number>;
  /**
   * The captions `picks` index (default data.train): self-critical training passes the captions it
   * sampled, on the rows of data.features.
   */
  examples?: Example[];
  /** The captions were sampled from the model (self-critical training): see HostBatch.sampled. */
  sampled?: boolean;
}

export interface Replicas {
  readonly count: number;
  /** One training step on the captions `picks` of opts.examples (default data.train), dropout masks from `seed`. */
  step(picks: number[], seed: number, opts?: StepOptions): Promise<StepResult>;
  /** Loss and accuracy over batches of `examples`, no dropout. Batches are shared out between replicas. */
  evaluate(examples: Example[], plan: number[][]): Promise<{ lossSum: number; correct: number; tokens: number }>;
  close(): Promise<void>;
}

interface Remote {
  worker: Worker;
  grads: Float32Array[];
  pending: Map<number, { resolve(r: StepResult): void; reject(e: Error): void }>;
}

/** Consecutive micro-batches of `size` captions (the last may be smaller): gradient accumulation. */
export function microBatches(picks: number[], size: number): { offset: number; picks: number[] }[] {
  const out: { offset: number; picks: number[] }[] = [];
  for (let offset = 0; offset < picks.length; offset += size) out.push({ offset, picks: picks.slice(offset, offset + size) });
  return out;
}

/** Contiguous shards of nearly equal size (empty ones dropped). */
export function shardPicks(picks: number[], shards: number): { offset: number; picks: number[] }[] {
  const out: { offset: number; picks: number[] }[] = [];
  const size = Math.ceil(picks.length / shards);
  for (let offset = 0; offset < picks.length; offset += size) out.push({ offset, picks: picks.slice(offset, offset + size) });
  return out;
}

function transferList(b: HostBatch): ArrayBuffer[] {
  return [b.features, b.inputs, b.rows, b.rowCaption, b.targets, b.weights, ...Object.values(b.masks).map((m) => m.values)].map(
    (a) => a.buffer as ArrayBuffer,
  );
}

async function startRemote(init: ReplicaInit): Promise<Remote> {
  const worker = new Worker(workerScript(import.meta.url, 'replica-worker.js'), { workerData: init });
  const remote: Remote = { worker, grads: init.grads, pending: new Map() };
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (m: { ready: boolean; error?: string }) =>
      m.ready ? resolve() : reject(new Error(`gradient replica failed to start: ${m.error}`)),
    );
    worker.once('error', reject);
  });
  const failAll = (e: Error) => {
    for (const p of remote.pending.values()) p.reject(e);
    remote.pending.clear();
  };
  worker.on('message', (m: ReplicaReply) => {
    const p = remote.pending.get(m.id);
    remote.pending.delete(m.id);
    if ('error' in m) p?.reject(new Error(`gradient replica: ${m.error}`));
    else p?.resolve({ loss: m.loss, correct: m.correct, count: m.count });
  });
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`gradient replica exited (code ${code})`)));
  return remote;
}

export async function startReplicas(ctx: {
  count: number;
  /** The backend this thread runs (workers load the same one). */
  backend: BackendChoice;
  model: TfjsDecoder;
  /** Several replicas share the host Adam's weights; one replica may use either optimizer. */
  optimizer: Adam | DeviceAdam;
  data: TrainingData;
  /** Label smoothing of the training targets (0 = none). */
  labelSmoothing: number;
  /** Captions per micro-batch: a step's picks beyond it are accumulated (default: the whole step at once). */
  microBatchSize?: number;
}): Promise<Replicas> {
  const { model, data } = ctx;
  const optimizer = ctx.optimizer;
  if (ctx.count > 1 && !(optimizer instanceof Adam)) throw new Error('gradient replicas need the host optimizer (they share its weights)');
  const host = optimizer as Adam;
  const { dropout } = model.sizes;
  const sites = model.spec.dropoutSites(model.sizes);
  const featureShape = model.spec.featureShape(model.sizes);
  const remotes = await Promise.all(
    Array.from({ length: ctx.count - 1 }, () =>
      startRemote({
        backend: ctx.backend,
        architecture: model.spec.architecture,
        sizes: model.sizes,
        labelSmoothing: ctx.labelSmoothing,
        weights: [...host.hostWeights],
        grads: host.hostWeights.map((w) => new Float32Array(new SharedArrayBuffer(w.length * 4))),
      }),
    ),
  );
  let nextId = 0;
  const ask = (r: Remote, kind: ReplicaRequest['kind'], batch: HostBatch, dropout?: ReplicaRequest['dropout']) =>
    new Promise<StepResult>((resolve, reject) => {
      const id = nextId++;
      r.pending.set(id, { resolve, reject });
      r.worker.postMessage({ id, kind, version: optimizer.step, batch, dropout } satisfies ReplicaRequest, transferList(batch));
    });
  /** The step's summed gradient on the host (made on first use: several shards per step). */
  let hostSum: Float32Array[] | undefined;

  return {
    count: ctx.count,
    async step(picks, seed, opts = {}) {
      const { weights, examples = data.train, sampled } = opts;
      // Micro-batches of microBatchSize captions (gradient accumulation), each shared out between the
      // replicas; a wave runs one shard per replica at once. Each shard's gradient is of its own mean
      // loss: weighted by its share of the step's words, the shards sum to the whole batch's gradient.
      const shards = microBatches(picks, ctx.microBatchSize ?? picks.length).flatMap((m) =>
        shardPicks(m.picks, ctx.count).map((s) => ({ offset: m.offset + s.offset, picks: s.picks })),
      );
      const spec = (offset: number) => ({ rate: dropout, seed, sites, firstCaption: offset });
      const rows = await data.features.rows(batchRows(examples, picks));
      const build = (s: { offset: number; picks: number[] }) =>
        buildBatch(examples, s.picks, rows, data.featureSize, {
          ...(weights ? { weights: Array.from({ length: s.picks.length }, (_, i) => weights[s.offset + i]) } : {}),
          sampled,
        });
      let count = 0;
      for (const p of picks) count += examples[p].ids.length + 1;
      let lossSum = 0;
      let correct = 0;
      let deviceSum: tf.Tensor[] | undefined;
      for (let first = 0; first < shards.length; first += ctx.count) {
        const wave = shards.slice(first, first + ctx.count);
        const hosts = wave.map(build);
        // Scored words per shard, read before the buffers are transferred to the workers.
        const counts = hosts.map((h) => h.targets.length);
        const remoteResults = hosts.slice(1).map((h, k) => ask(remotes[k], 'grads', h, spec(wave[k + 1].offset)));
        addDropoutMasks(hosts[0], spec(wave[0].offset));
        const local = toTensors(hosts[0], featureShape);
        let mine: ReturnType<typeof lossAndGrads>;
        try {
          mine = lossAndGrads(model, local, { labelSmoothing: ctx.labelSmoothing });
        } finally {
          disposeBatch(local);
        }
        lossSum += mine.loss * counts[0];
        correct += mine.correct;
        if (shards.length === 1) {
          optimizer.apply(mine.grads);
          tf.dispose(mine.grads);
          return { loss: mine.loss, correct: mine.correct, count };
        }
        const w0 = counts[0] / count;
        if (!(optimizer instanceof Adam)) {
          // One replica on a native backend: the sum stays on the device.
          const previous = deviceSum;
          deviceSum = tf.tidy(() => mine.grads.map((g, p) => (previous ? tf.add(previous[p], tf.mul(g, w0)) : tf.mul(g, w0))));
          tf.dispose([...mine.grads, ...(previous ?? [])]);
          continue;
        }
        const sum = (hostSum ??= host.hostWeights.map((w) => new Float32Array(w.length)));
        withFloatViews(mine.grads, [], (g) =>
          sum.forEach((s, p) => {
            const gp = g[p];
            if (first === 0) for (let i = 0; i < s.length; i++) s[i] = w0 * gp[i];
            else for (let i = 0; i < s.length; i++) s[i] += w0 * gp[i];
          }),
        );
        tf.dispose(mine.grads);
        const others = await Promise.all(remoteResults);
        others.forEach((r, k) => {
          const wk = counts[k + 1] / count;
          sum.forEach((s, p) => {
            const g = remotes[k].grads[p];
            for (let i = 0; i < s.length; i++) s[i] += wk * g[i];
          });
          lossSum += r.loss * counts[k + 1];
          correct += r.correct;
        });
      }
      if (deviceSum) {
        optimizer.apply(deviceSum);
        tf.dispose(deviceSum);
      } else host.applyHost(hostSum as Float32Array[]);
      return { loss: lossSum / count, correct, count };
    },
    async evaluate(examples, plan) {
      const build = async (i: number) => {
        readAheadAfter(data.features, examples, plan, i);
        return buildBatch(examples, plan[i], await data.features.rows(batchRows(examples, plan[i])), data.featureSize);
      };
      // Rounds of one batch per replica (batch i goes to replica i mod count): only these batches are
      // held at once; the workers' batches are sent first so that they start at once.
      const results: StepResult[] = [];
      const remoteResults: StepResult[] = []; // summed after this thread's, in plan order, as always
      for (let first = 0; first < plan.length; first += ctx.count) {
        const round = Array.from({ length: Math.min(ctx.count, plan.length - first) }, (_, k) => first + k);
        const hosts = [];
        for (const i of round) hosts.push(await build(i));
        const remote = hosts.slice(1).map((h, k) => ask(remotes[k], 'evaluate', h));
        const b = toTensors(hosts[0], featureShape);
        try {
          const r = evaluateBatch(model, b);
          results.push({ loss: r.loss, correct: r.correct, count: b.count });
        } finally {
          disposeBatch(b);
        }
        remoteResults.push(...(await Promise.all(remote)));
      }
      results.push(...remoteResults);
      return results.reduce(
        (a, r) => ({ lossSum: a.lossSum + r.loss * r.count, correct: a.correct + r.correct, tokens: a.tokens + r.count }),
        { lossSum: 0, correct: 0, tokens: 0 },
      );
    },
    async close() {
      await Promise.all(remotes.map((r) => r.worker.terminate()));
    },
  };
}
