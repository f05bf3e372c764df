// The --backend choices, apart from the backend loader so that `--help` does not load TensorFlow.js.
export type BackendChoice = 'auto' | 'gpu' | 'node' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'gpu', 'node', 'wasm', 'cpu'];
