import { defineConfig } from 'vitest/config';

// Two cores on the project's machines: keep file parallelism modest; e2e files start servers
// and processors of their own.
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      { extends: true, test: { name: 'shared', include: ['shared/src/**/*.test.ts'] } },
      { extends: true, test: { name: 'server', include: ['server/src/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 60_000 } },
      { extends: true, test: { name: 'processor', include: ['processor/src/**/*.test.ts'], testTimeout: 30_000 } },
      { extends: true, test: { name: 'e2e', include: ['tests/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 } },
    ],
  },
});
