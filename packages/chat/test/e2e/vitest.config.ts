// Browser tests (npm run test:e2e): playwright-core driving the system's chromium against a chat
// server started in the test process. Kept out of `npm test`, which needs no browser.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

export default defineConfig({
  root,
  test: {
    include: ['packages/*/test/e2e/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
