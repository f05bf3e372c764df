// `train --hidden-size 1000000` used to grow until the kernel killed it (ignoring SIGTERM), and
// `--batch-size 1000000000` died with a RangeError (exit 1). train now estimates the memory of the
// model and of one step from the sizes before allocating anything, and refuses (exit 2, one line
// naming the flag to lower) what cannot fit in the memory available or in a typed array.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DECODERS } from '../../src/model/registry.js';
import type { BaseSizes, DataSizes, DecoderOptions, DecoderSpec } from '../../src/model/decoder.js';
import {
  assertTrainFits,
  availableMemory,
  estimateTrainMemory,
  flagsToLower,
  MAX_ARRAY_VALUES,
  stepValues,
  type TrainMemoryInput,
} from '../../src/train/memory.js';
import { allocationError } from '../../src/train/run.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { expectOneLineError, prepareSynthetic } from './fixtures.js';

const GB = 1e9;
const POOLED: DataSizes = { vocabSize: 2535, featureShape: [2048], dropout: 0.5, maxLength: 37 };
const SPATIAL: DataSizes = { vocabSize: 2535, featureShape: [7, 7, 1024], dropout: 0.5, maxLength: 37 };

function input(decoder: 'merge' | 'attention' | 'transformer', options: DecoderOptions = {}, over: Partial<TrainMemoryInput> = {}) {
  const spec = DECODERS[decoder] as DecoderSpec;
  const data = decoder === 'merge' ? POOLED : SPATIAL;
  const rebuild = (o: DecoderOptions): BaseSizes => spec.sizesFor(data, o);
  const value: TrainMemoryInput = {
    spec,
    sizes: rebuild(options),
    batchSize: 128,
    maxCaptionLength: 35,
    engine: 'onnx',
    replicas: 1,
    featureRows: 7000,
    featureBytes: 4,
    fullBatchTimeSteps: 16,
    timeStepMultiple: 8,
    ...over,
  };
  return { value, rebuild, options };
}

describe('the training memory estimate', () => {
  it("counts the model as weights + gradients + Adam's moments (4 float32 copies on the onnx engine)", () => {
    const { value } = input('merge');
    const parameters = value.spec.weightShapes(value.sizes).reduce((n, [, s]) => n + s.reduce((a, d) => a * d, 1), 0);
    expect(estimateTrainMemory(value).modelBytes).toBe(parameters * 4 * 4);
    expect(estimateTrainMemory({ ...value, engine: 'tfjs', timeStepMultiple: 1 }).modelBytes).toBeGreaterThan(parameters * 4 * 4);
  });

  it('counts a step from the decoder itself: it grows with the batch, the caption length and the sizes', () => {
    const merge = input('merge').value;
    const step = (over: Partial<TrainMemoryInput>) => estimateTrainMemory({ ...merge, ...over }).stepBytes;
    // Twice the captions: twice the values (no shards below 16 time steps at a multiple of 8).
    const short = { maxCaptionLength: 10, timeStepMultiple: 1 };
    expect(step({ ...short, batchSize: 256 })).toBeCloseTo(2 * step({ ...short, batchSize: 128 }), -3);
    expect(step({ engine: 'tfjs', timeStepMultiple: 1, maxCaptionLength: 40 })).toBeGreaterThan(
      step({ engine: 'tfjs', timeStepMultiple: 1, maxCaptionLength: 20 }),
    );
    // The [words, vocab] logits and their softmax and gradient are in it: at least 3 x B x T x V values.
    expect(stepValues(merge.spec, merge.sizes, { captions: 10, timeSteps: 5 }).values).toBeGreaterThan(3 * 10 * 5 * 2535);
    // Every decoder can be counted, and attending over 49 regions costs more per caption than merge.
    const perCaption = (d: 'merge' | 'attention' | 'transformer') => {
      const { value } = input(d);
      return stepValues(value.spec, value.sizes, { captions: 1, timeSteps: 16 }).values;
    };
    expect(perCaption('attention')).toBeGreaterThan(perCaption('merge'));
    expect(perCaption('transformer')).toBeGreaterThan(0);
  });

  it('the onnx engine runs long batches in shards, so its step is smaller than the whole batch at once', () => {
    const { value } = input('attention');
    const onnx = estimateTrainMemory(value).stepBytes;
    const whole = estimateTrainMemory({ ...value, engine: 'tfjs', timeStepMultiple: 1 }).stepBytes;
    expect(onnx).toBeLessThan(whole);
  });

  it('accepts the usual Flickr8k sizes on 2 GB, as they train there (a lower bound, not a scare)', () => {
    for (const d of ['merge', 'attention', 'transformer'] as const) {
      const { value, rebuild, options } = input(d, {}, { featureBytes: d === 'merge' ? 4 : 2 });
      expect(() => assertTrainFits(value, { available: { bytes: 2 * GB, source: 'test' }, rebuild, options })).not.toThrow();
    }
  });

  it('refuses what cannot fit, naming the flag that matters', () => {
    const fit = (d: 'merge' | 'attention', options: DecoderOptions, over: Partial<TrainMemoryInput> = {}) => {
      const { value, rebuild } = input(d, options, over);
      return () => assertTrainFits(value, { available: { bytes: 16 * GB, source: 'the cgroup limit' }, rebuild, options });
    };
    expect(fit('merge', { hiddenSize: 1_000_000 })).toThrow(
      /cannot fit: it needs at least .* GB .* more than the 16 GB of the cgroup limit/,
    );
    expect(fit('merge', { hiddenSize: 1_000_000 })).toThrow(expect.objectContaining({ code: 'USAGE', hint: 'lower --hidden-size' }));
    expect(fit('merge', {}, { batchSize: 1_000_000_000 })).toThrow(
      expect.objectContaining({ hint: expect.stringMatching(/^lower --batch-size/) }),
    );
    expect(fit('attention', { attentionSize: 100_000 })).toThrow(
      expect.objectContaining({ hint: expect.stringMatching(/--attention-size/) }),
    );
  });

  it('refuses an array longer than a typed array may be, even with memory to spare', () => {
    const { value, rebuild, options } = input('merge', { embeddingSize: Math.ceil((MAX_ARRAY_VALUES + 1) / 2535) });
    expect(estimateTrainMemory(value).largestArrayValues).toBeGreaterThan(MAX_ARRAY_VALUES);
    expect(() => assertTrainFits(value, { available: { bytes: 1e18, source: 'test' }, rebuild, options })).toThrow(
      /more than the .* a typed array can/,
    );
  });

  it('names the flags whose halving saves the most', () => {
    const big = input('merge', { hiddenSize: 100_000 });
    expect(flagsToLower(big.value, big.rebuild, big.options)).toEqual(['--hidden-size']);
    const wide = input('merge', {}, { batchSize: 1_000_000 });
    expect(flagsToLower(wide.value, wide.rebuild, wide.options)[0]).toBe('--batch-size');
  });

  it('reads the cgroup limit (v2 "max" or v1 huge = none) and falls back to the machine memory', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'capgen-cgroup-'));
    const file = (name: string, text: string) => {
      writeFileSync(path.join(dir, name), text);
      return path.join(dir, name);
    };
    expect(availableMemory({ limitFiles: [file('v2', '2147483648\n')], totalBytes: 64 * GB })).toEqual({
      bytes: 2147483648,
      source: `the cgroup limit (${path.join(dir, 'v2')})`,
    });
    expect(availableMemory({ limitFiles: [file('max', 'max\n')], totalBytes: 64 * GB }).bytes).toBe(64 * GB);
    expect(availableMemory({ limitFiles: [file('v1', '9223372036854771712\n')], totalBytes: 64 * GB }).bytes).toBe(64 * GB);
    expect(availableMemory({ limitFiles: [path.join(dir, 'absent')], totalBytes: 8 * GB })).toEqual({
      bytes: 8 * GB,
      source: "this machine's memory",
    });
  });
});

describe('an allocation that fails anyway', () => {
  it('is a one-line usage error naming the flags, not a RangeError', () => {
    let thrown: unknown;
    try {
      new Float32Array(MAX_ARRAY_VALUES + 1);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(RangeError);
    expect(allocationError(thrown)).toMatchObject({ code: 'USAGE', message: expect.stringMatching(/^training ran out of memory: /) });
    expect(allocationError(thrown)?.hint).toMatch(/lower --batch-size/);
    expect(allocationError(new RangeError('Maximum call stack size exceeded'))).toBeUndefined();
    expect(allocationError(new Error('Array buffer allocation failed'))).toBeUndefined();
  });
});

describe.skipIf(!existsSync(BIN))('train refuses sizes that cannot fit', () => {
  const root = tempDir('capgen-train-memory-');

  it('--hidden-size 1000000 and --batch-size 1000000000 exit 2 at once with one line naming the flag', async () => {
    const run = path.join(root, 'run');
    await prepareSynthetic(run);
    const hidden = await runCli(['train', '--run', run, '--epochs', '1', '--hidden-size', '1000000'], { timeoutMs: 30_000 });
    expectOneLineError(hidden, /capgen: error: this training cannot fit: .*\(lower --hidden-size\)/);
    const batch = await runCli(['train', '--run', run, '--epochs', '1', '--batch-size', '1000000000'], { timeoutMs: 30_000 });
    expectOneLineError(batch, /capgen: error: this training cannot fit: .*\(lower --batch-size/);
    expect(batch.stderr).not.toMatch(/RangeError/);
    expect(existsSync(path.join(run, 'train'))).toBe(false);
  }, 120_000);
});
