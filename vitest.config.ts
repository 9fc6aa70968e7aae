import { defineConfig } from 'vitest/config';

// The write services' tests run twice: on SQLite (the embedded default) and on PostgreSQL, where
// defects of their own hide (a NUL in an Idempotency-Key once broke every keyed write there only).
const SERVICE_TESTS = ['test/services/**/*.int.test.ts'];

export default defineConfig({
  test: {
    exclude: ['**/node_modules/**', 'test/bench/**'],
    // PostgreSQL found or started, Redis found or its tests skipped: see the file.
    globalSetup: ['test/setup/servers.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: process.env.VITEST_JSON_REPORT
      ? ['default', ['json', { outputFile: process.env.VITEST_JSON_REPORT }]]
      : ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'sqlite',
          include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: SERVICE_TESTS,
          env: { PTCE_TEST_STORE: 'postgres', PTCE_TEST_PROJECTOR: 'on' },
        },
      },
    ],
  },
});
