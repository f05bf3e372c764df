// The built CLI: `capgen prepare --engine onnx` writes the features `--engine tfjs` writes (to 1e-4),
// into the same cache (same encoder identity); without the package, or for an encoder without an ONNX
// graph, auto runs tfjs and says why while --engine onnx is refused (exit 2).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openFeatureCache } from '../../src/features/cache.js';
import type { PrepareRecord } from '../../src/run/formats.js';
import { runCli, tempDir } from '../helpers.js';
import { SKIP_ORT, maxAbsDiff } from './onnx-helpers.js';
import { writeTinyModel } from './tiny-model.js';

describe.skipIf(SKIP_ORT)('capgen prepare --engine (built CLI)', () => {
  const root = tempDir('capgen-onnx-cli-');
  let modelJson: string;
  beforeAll(async () => {
    ({ modelJson } = await writeTinyModel(path.join(root, 'model'), { seed: 9, shards: 2 }));
  });

  async function prepare(engine: string): Promise<{ record: PrepareRecord; stderr: string; out: string }> {
    const out = path.join(root, `run-${engine}`);
    const args = ['prepare', '--dataset', 'synthetic', '--count', '12', '--seed', '4', '--data', path.join(root, 'data'), '--out', out];
    const r = await runCli([
      ...args,
      '--encoder',
      modelJson,
      '--encoder-layer',
      'features',
      '--preprocess',
      'tf',
      '--batch-size',
      '5',
      '--engine',
      engine,
    ]);
    expect(r.code, r.stderr).toBe(0);
    return { record: JSON.parse(readFileSync(path.join(out, 'prepare.json'), 'utf8')) as PrepareRecord, stderr: r.stderr, out };
  }

  it('onnx and tfjs give the same features in the same cache folder', async () => {
    const tfjs = await prepare('tfjs');
    const onnx = await prepare('onnx');
    expect(tfjs.stderr).toMatch(/engine tfjs;/);
    expect(onnx.stderr).toMatch(/engine onnx \(onnxruntime-node [\d.]+, 1 thread\)/);
    expect(onnx.record.features?.dir).toBe(tfjs.record.features?.dir);
    expect(onnx.record.features?.encoder).toEqual(tfjs.record.features?.encoder);
    const a = await openFeatureCache(path.join(tfjs.out, tfjs.record.features?.dir as string));
    const b = await openFeatureCache(path.join(onnx.out, onnx.record.features?.dir as string));
    try {
      expect(b.names().sort()).toEqual(a.names().sort());
      expect(a.names().length).toBeGreaterThan(5);
      let max = 0;
      for (const name of a.names()) max = Math.max(max, maxAbsDiff(b.get(name) as Float32Array, a.get(name) as Float32Array));
      expect(max).toBeLessThan(1e-4);
    } finally {
      a.close();
      b.close();
    }
  });

  it('without onnxruntime-node: auto says so and runs tfjs; --engine onnx is one line with an install hint, exit 2', async () => {
    // A preload that makes require('onnxruntime-node') fail as it does where the package is not installed.
    const hide = path.join(root, 'hide-ort.cjs');
    writeFileSync(
      hide,
      "const M = require('module'); const r = M._resolveFilename; M._resolveFilename = function (req, ...rest) { if (req === 'onnxruntime-node') { const e = new Error(\"Cannot find module 'onnxruntime-node'\"); e.code = 'MODULE_NOT_FOUND'; throw e; } return r.call(this, req, ...rest); };\n",
    );
    const env = { NODE_OPTIONS: `--require ${hide}` };
    const base = [
      'prepare',
      '--dataset',
      'synthetic',
      '--count',
      '4',
      '--data',
      path.join(root, 'data4'),
      '--encoder',
      modelJson,
      '--preprocess',
      'tf',
    ];
    const auto = await runCli([...base, '--out', path.join(root, 'run-hidden-auto')], { env });
    expect(auto.code, auto.stderr).toBe(0);
    expect(auto.stderr).toMatch(/engine tfjs \(onnx not used: onnxruntime-node: Cannot find module 'onnxruntime-node'\)/);
    const onnx = await runCli([...base, '--out', path.join(root, 'run-hidden-onnx'), '--engine', 'onnx'], { env });
    expect(onnx.code, onnx.stderr).toBe(2);
    expect(onnx.stderr).toMatch(
      /the onnx engine is not available: onnxruntime-node: Cannot find module 'onnxruntime-node' \(install it with `ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@/,
    );
    expect(onnx.stderr).not.toMatch(/\n\s+at /);
  });

  it('--engine onnx with an encoder it cannot build is one line and exit 2', async () => {
    const out = path.join(root, 'run-seeded');
    const r = await runCli([
      'prepare',
      '--dataset',
      'synthetic',
      '--count',
      '4',
      '--out',
      out,
      '--encoder',
      'seeded-cnn',
      '--engine',
      'onnx',
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/onnx engine cannot run this encoder: encoder 'seeded-cnn' has no ONNX graph \(use --engine tfjs/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
