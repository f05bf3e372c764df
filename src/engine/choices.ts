// The values of every `--engine` flag, in a module that loads no tfjs and no ONNX Runtime (help texts and
// configs import it); the choice itself is made in src/engine/choice.ts.

/** ONNX Runtime, TensorFlow.js, or the fastest that runs here (src/engine/choice.ts). */
export type EngineChoice = 'auto' | 'onnx' | 'tfjs';
export const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', 'onnx', 'tfjs'];
export type EngineName = 'onnx' | 'tfjs';
