// `train --keep-epochs N` keeps the last N epochs' weights as checkpoints, and `capgen average` turns
// them into one: the recipe of bench/README.md (average of a run's last epochs).
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { runAverage } from '../../src/average/run.js';
import { lastCheckpointDir, readCheckpoint } from '../../src/model/checkpoint.js';
import { setLogLevel } from '../../src/log.js';
import { DEFAULT_TRAIN_CONFIG } from '../../src/train/config.js';
import { runTrain } from '../../src/train/run.js';
import { tempDir } from '../helpers.js';
import { writeTinyRun } from './fixtures.js';

describe('train --keep-epochs', () => {
  beforeAll(async () => {
    setLogLevel({ quiet: true });
    await initBackend('cpu');
  });

  it('keeps the last N epochs (each a checkpoint of that epoch), and average makes one of them', async () => {
    const tiny = writeTinyRun(tempDir());
    const config = {
      ...DEFAULT_TRAIN_CONFIG,
      runDir: tiny.runDir,
      backend: 'cpu' as const,
      engine: 'tfjs' as const,
      epochs: 4,
      patience: 10,
      batchSize: 8,
      learningRate: 0.01,
      embeddingSize: 6,
      hiddenSize: 8,
      replicas: 1,
      keepEpochs: 2,
    };
    await runTrain(config, { openFeatures: tiny.openFeatures });
    const epochsDir = path.join(tiny.runDir, 'train', 'epochs');
    expect(readdirSync(epochsDir).sort()).toEqual(['epoch-003', 'epoch-004']);
    const [e3, e4, last] = await Promise.all([
      readCheckpoint(path.join(epochsDir, 'epoch-003')),
      readCheckpoint(path.join(epochsDir, 'epoch-004')),
      readCheckpoint(lastCheckpointDir(tiny.runDir)),
    ]);
    expect([e3.meta.epoch, e4.meta.epoch]).toEqual([3, 4]);
    expect(e4.optimizer).toBeUndefined(); // weights only: they are for decoding and averaging
    for (const n of Object.keys(last.weights)) expect(e4.weights[n]).toEqual(last.weights[n]);
    expect(e3.weights['output.kernel']).not.toEqual(e4.weights['output.kernel']);

    const out = path.join(tiny.runDir, 'train', 'average');
    await runAverage({
      checkpoints: [path.join(epochsDir, 'epoch-003'), path.join(epochsDir, 'epoch-004')],
      outDir: out,
      overwrite: false,
    });
    const avg = await readCheckpoint(out);
    const k = avg.weights['output.kernel'];
    k.forEach((x, i) => expect(x).toBeCloseTo((e3.weights['output.kernel'][i] + e4.weights['output.kernel'][i]) / 2, 6));

    // Without --keep-epochs nothing is kept.
    const plain = writeTinyRun(tempDir());
    await runTrain({ ...config, runDir: plain.runDir, epochs: 1, keepEpochs: 0 }, { openFeatures: plain.openFeatures });
    expect(existsSync(path.join(plain.runDir, 'train', 'epochs'))).toBe(false);
  });
});
