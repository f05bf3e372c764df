import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Model tests run real TensorFlow.js work on 2 cores: generous, but bounded.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two workers: one per core of the CI machine; more only thrash.
    pool: 'forks',
    maxWorkers: 2,
  },
});
