// The one ONNX-or-tfjs choice (src/engine/choice.ts): the same rules for features, training and decoding.
import { describe, expect, it } from 'vitest';
import { engineToTry, onnxFailed, checkEngineChoice, type EngineChoice } from '../../src/engine/choice.js';

describe('engineToTry', () => {
  const available = () => undefined;
  const missing = () => 'onnxruntime-node: Cannot find module';

  it('tfjs never tries ONNX Runtime; auto on a native tfjs backend keeps tfjs', () => {
    expect(engineToTry('tfjs', { part: 'features', unavailable: available })).toEqual({ name: 'tfjs', why: 'asked for' });
    expect(engineToTry('auto', { part: 'training', backend: 'tensorflow', unavailable: available })).toEqual({
      name: 'tfjs',
      why: 'native TensorFlow (tensorflow)',
    });
    // An explicit onnx goes to ONNX Runtime on any backend.
    expect(engineToTry('onnx', { part: 'training', backend: 'tensorflow', unavailable: available }).name).toBe('onnx');
  });

  it('auto on a host backend tries ONNX Runtime where it is available, else tfjs with the reason', () => {
    expect(engineToTry('auto', { part: 'decoding', backend: 'wasm', unavailable: available })).toEqual({
      name: 'onnx',
      why: 'fastest on WASM hosts',
    });
    expect(engineToTry('auto', { part: 'decoding', backend: 'cpu', unavailable: missing })).toEqual({
      name: 'tfjs',
      why: 'onnxruntime-node: Cannot find module',
      unavailable: true,
    });
  });

  it('onnx that cannot run is a BACKEND error naming the part, with the install hint', () => {
    for (const [part, words] of [
      ['features', 'the onnx engine'],
      ['training', 'the onnx training engine'],
      ['decoding', 'the onnx decoding engine'],
    ] as const) {
      expect(() => engineToTry('onnx', { part, unavailable: missing })).toThrow(
        expect.objectContaining({ code: 'BACKEND', message: `${words} is not available: onnxruntime-node: Cannot find module` }),
      );
    }
  });

  it('a part ONNX Runtime cannot build: auto falls back to tfjs, onnx is a BACKEND error', () => {
    expect(onnxFailed('auto', { part: 'features', why: 'no graph' })).toEqual({ name: 'tfjs', why: 'no graph' });
    expect(() => onnxFailed('onnx', { part: 'features', why: 'no graph' })).toThrow(
      expect.objectContaining({ code: 'BACKEND', message: 'the onnx engine cannot run this: no graph' }),
    );
  });

  it('refuses a value outside auto, onnx, tfjs', () => {
    expect(() => checkEngineChoice('gpu')).toThrow(expect.objectContaining({ code: 'USAGE', message: "unknown engine 'gpu'" }));
    expect(() => engineToTry('gpu' as EngineChoice, { part: 'features' })).toThrow(/unknown engine 'gpu'/);
  });
});
