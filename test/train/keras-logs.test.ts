// history.csv as Keras' CSVLogger writes it, and the TensorBoard scalars as Keras' callback lays them
// out, through a stand-in for tfjs-node's summary writer (tfjs-node cannot install on these machines).
import { describe, expect, it } from 'vitest';
import type { BackendInfo, NativeSummaryApi } from '../../src/backend/index.js';
import type { EpochRecord } from '../../src/train/history.js';
import { historyCsv, openTensorBoard } from '../../src/train/keras-logs.js';

const records: EpochRecord[] = [
  {
    epoch: 1,
    trainLoss: 2.5,
    trainAccuracy: 0.25,
    valLoss: 2.25,
    valAccuracy: 0.3,
    learningRate: 0.001,
    seconds: 10.5,
    samplesPerSecond: 100,
  },
  {
    epoch: 2,
    trainLoss: 2,
    trainAccuracy: 0.375,
    valLoss: null,
    valAccuracy: null,
    learningRate: 0.0005,
    seconds: 9,
    samplesPerSecond: 110,
  },
];

const backend = (name: BackendInfo['name']): BackendInfo => ({ requested: name, name, tfBackend: name, threads: 1, skipped: [] });

describe('history.csv', () => {
  it("has CSVLogger's columns, epochs from 0, and NA where there is no dev split", () => {
    expect(historyCsv(records)).toBe(
      'epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n0,2.5,0.25,2.25,0.3,0.001,10.5\n1,2,0.375,NA,NA,0.0005,9\n',
    );
    expect(historyCsv([])).toBe('epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n');
  });
});

describe('--tensorboard', () => {
  it("writes Keras' tags to <dir>/train and <dir>/validation, step = epoch from 0", () => {
    const calls: string[] = [];
    const api: NativeSummaryApi = {
      summaryFileWriter: (dir) => ({
        scalar: (name, value, step) => calls.push(`${dir} ${name} ${value} ${step}`),
        flush: () => calls.push(`${dir} flush`),
      }),
    };
    const log = openTensorBoard('/logs', backend('node'), api);
    for (const r of records) log.write(r);
    expect(calls).toEqual([
      '/logs/train epoch_loss 2.5 0',
      '/logs/train epoch_accuracy 0.25 0',
      '/logs/train epoch_learning_rate 0.001 0',
      '/logs/validation epoch_loss 2.25 0',
      '/logs/validation epoch_accuracy 0.3 0',
      '/logs/train flush',
      '/logs/validation flush',
      '/logs/train epoch_loss 2 1',
      '/logs/train epoch_accuracy 0.375 1',
      '/logs/train epoch_learning_rate 0.0005 1',
      '/logs/train flush',
      '/logs/validation flush',
    ]);
  });

  it('without a native backend it is a usage error naming the backend in use', () => {
    expect(() => openTensorBoard('/logs', backend('wasm'), undefined)).toThrow(
      expect.objectContaining({ code: 'USAGE', message: expect.stringMatching(/this run is on wasm/) }),
    );
  });
});
