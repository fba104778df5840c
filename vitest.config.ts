import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts', 'test/hcs/computecore/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    // Two cores: forks keep suites isolated, and two at a time is what the machine has.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
