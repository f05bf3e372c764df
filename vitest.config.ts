import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Run-wide notes (../shared absent), printed once rather than by every test file.
    globalSetup: ['test/global-setup.ts'],
    // Model tests run real TensorFlow.js work on 2 cores: generous, but bounded.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two workers: one per core of the CI machine; more only thrash.
    pool: 'forks',
    maxWorkers: 2,
    // One WASM thread per test process (and the CLIs it starts): two workers already fill both cores.
    // test/backend/wasm-threads.test.ts starts its own process to check the threaded build.
    env: { CAPGEN_THREADS: '1' },
  },
});
