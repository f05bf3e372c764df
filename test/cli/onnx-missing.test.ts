// When onnxruntime-node cannot be loaded (an install that skipped it, a platform without its binaries),
// prepare, train and caption still run, on TensorFlow.js: each says so in ONE warning line with the fix,
// and its features:/engine:/caption: line names the engine that runs instead.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';

/** A preload that makes `require('onnxruntime-node')` fail as it does when the package is not installed. */
const HIDE_ORT = `
const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'onnxruntime-node' || request.startsWith('onnxruntime-node/')) {
    const e = new Error("Cannot find module '" + request + "'");
    e.code = 'MODULE_NOT_FOUND';
    throw e;
  }
  return resolve.call(this, request, ...rest);
};
`;

const onnxWarnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('warning:') && /ONNX Runtime/.test(l));

describe('ONNX Runtime missing', () => {
  it('prepare, train and caption warn once each with the fix, and say that TensorFlow.js runs instead', async () => {
    const dir = tempDir();
    const preload = path.join(dir, 'hide-ort.cjs');
    writeFileSync(preload, HIDE_ORT);
    const env = { NODE_OPTIONS: `--require ${preload}` };
    const run = path.join(dir, 'run');

    const prep = await runCli(['prepare', '--dataset', 'synthetic', '--count', '10', '--run', run], { env });
    expect(prep.code, prep.stderr).toBe(0);
    expect(onnxWarnings(prep.stderr)).toHaveLength(1);
    expect(onnxWarnings(prep.stderr)[0]).toMatch(
      /running on TensorFlow\.js instead.*ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@/,
    );
    expect(prep.stderr).toMatch(/^features: .*engine tfjs \(onnx not used: onnxruntime-node: Cannot find module/m);

    const train = await runCli(['train', '--run', run, '--epochs', '1', '--batch-size', '8'], { env });
    expect(train.code, train.stderr).toBe(0);
    expect(onnxWarnings(train.stderr)).toHaveLength(1);
    expect(train.stderr).toMatch(/engine tfjs \(ONNX Runtime is missing/);

    const images = path.join(run, 'dataset', 'Images');
    const caption = await runCli(['caption', '--run', run, images], { env });
    expect(caption.code, caption.stderr).toBe(0);
    expect(onnxWarnings(caption.stderr)).toHaveLength(1);
    expect(caption.stderr).toMatch(/on tfjs \(onnx not used: .*\); decoder on tfjs/);
    expect(caption.stdout).toMatch(/\.png\t\S+/);
  }, 300_000);
});
