import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'bench/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', 'packages/*/test/e2e/**'],
    // Deadlines, not barriers (tests wait on conditions): generous so that a loaded machine (CI runs
    // the suite beside another) is slow, not failing. A quiet run takes a fraction of this.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
