import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProcessorConfig } from './config.ts';
import { FakeApi, ok, trpcError } from './testing/fake-api.ts';
import { FakePool } from './testing/fake-pool.ts';
import { createTestManager, managerConfig, managerFixture, until, type ManagerFixture } from './testing/manager-harness.ts';

/** Incremental parsing and the file-watch trigger, seen from the manager: parses and persists per cycle. */

let fake: FakeApi;
const server = setupServer();
let fx: ManagerFixture;

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());
beforeEach(() => {
  fake = new FakeApi();
  server.resetHandlers(...fake.handlers());
  fx = managerFixture(['a.ts', 'b.ts', 'c.mjs']);
  // A helper the DAG files import, kept out of the listing as a bundle's library folder would be.
  mkdirSync(join(fx.dir, 'lib'));
  writeFileSync(join(fx.dir, 'lib', 'helper.ts'), 'export const owner = "ops";\n');
  writeFileSync(join(fx.dir, '.dagprocignore'), 'lib/\n');
});
afterEach(() => fx.dispose());

// One persist per result: these tests count what was sent per parse, which batching would coalesce.
const config = (overrides: Partial<ProcessorConfig> = {}) => managerConfig(fx, fake.url, { persistBatchSize: 1, ...overrides });
const persists = (file: string) => fake.persisted.filter((p) => p.relativeFileloc === file).length;

/** A manager running until stopped, for tests that change files between cycles. */
function running(cfg: ProcessorConfig, pool: FakePool) {
  const m = createTestManager(fx, cfg, pool);
  const done = m.run();
  return {
    m,
    async stop() {
      m.stop();
      await done;
    },
  };
}

describe('incremental parsing in the loop', () => {
  it('a static file is parsed twice, then skipped with nothing sent; files reading Variables or varying are parsed every time', async () => {
    const pool = new FakePool();
    pool.readsVariables.add('b.ts');
    pool.varying.add('c.mjs');
    const m = createTestManager(fx, config({ numRuns: 4 }), pool);
    await m.run();
    expect([pool.count('a.ts'), pool.count('b.ts'), pool.count('c.mjs')]).toEqual([2, 4, 4]);
    expect([persists('a.ts'), persists('b.ts'), persists('c.mjs')]).toEqual([2, 4, 4]);
    expect(m.stats.skippedUnchanged).toBe(2);
  });

  it('a file whose DAG id another file owns, or whose result the API refused, keeps being parsed', async () => {
    server.use(
      http.post(`${fake.url}/dag-processing/trpc/parsing.persist`, async ({ request }) => {
        const input = (await request.json()) as { relativeFileloc: string; dags: { dagId: string }[] };
        fake.persisted.push(input as never);
        if (input.relativeFileloc === 'c.mjs') return trpcError(400, 'BAD_REQUEST', 'refused');
        const rejected = input.relativeFileloc === 'b.ts' ? [{ dagId: 'b', ownerFileloc: 'other.ts' }] : [];
        return ok({ outcome: 'applied', dags: [], rejected, warnings: [] });
      }),
    );
    const pool = new FakePool();
    const m = createTestManager(fx, config({ numRuns: 4 }), pool);
    await m.run();
    expect([pool.count('a.ts'), pool.count('b.ts'), pool.count('c.mjs')]).toEqual([2, 4, 4]);
  });

  it('switched off, every due file is parsed and sent', async () => {
    const pool = new FakePool();
    const m = createTestManager(fx, config({ numRuns: 4, incrementalParsing: false }), pool);
    await m.run();
    expect([pool.count('a.ts'), pool.count('b.ts'), pool.count('c.mjs')]).toEqual([4, 4, 4]);
    expect(m.stats.skippedUnchanged).toBe(0);
  });

  it('editing a helper that a static file imports re-parses that file and sends the result', async () => {
    const pool = new FakePool();
    pool.imports.set('a.ts', ['lib/helper.ts']);
    const p = running(config({ numRuns: null }), pool);
    try {
      await until(() => p.m.stats.skippedUnchanged >= 6, 'a.ts, b.ts and c.mjs to be skipped twice each');
      const parsesBefore = pool.count('a.ts');
      const persistsBefore = persists('a.ts');
      const bBefore = pool.count('b.ts');
      writeFileSync(join(fx.dir, 'lib', 'helper.ts'), 'export const owner = "data-eng";\n');
      await until(() => pool.count('a.ts') === parsesBefore + 1, 'a.ts to be parsed again');
      await until(() => persists('a.ts') === persistsBefore + 1, 'its result to be sent');
      // b.ts does not import the helper: still skipped.
      await until(() => p.m.stats.skippedUnchanged >= 12, 'more cycles');
      expect(pool.count('b.ts')).toBe(bBefore);
    } finally {
      await p.stop();
    }
  });

  it('a priority parse request parses a static file', async () => {
    const pool = new FakePool();
    const p = running(config({ numRuns: null }), pool);
    try {
      await until(() => p.m.stats.skippedUnchanged >= 3, 'the files to be skipped');
      const before = pool.count('a.ts');
      fake.parseRequests = [{ id: 9, bundleName: 'dags-folder', relativeFileloc: 'a.ts', createdAt: new Date().toISOString() }];
      await until(() => fake.persisted.some((x) => x.priorityRequestIds?.includes(9)), 'the request to be answered');
      expect(pool.count('a.ts')).toBe(before + 1);
    } finally {
      await p.stop();
    }
  });

  it('after the safety interval a static file is parsed again', async () => {
    const pool = new FakePool();
    const p = running(config({ numRuns: null, staticReparseInterval: 1 }), pool);
    try {
      await until(() => p.m.stats.skippedUnchanged >= 1, 'a file to be skipped');
      const before = pool.count('a.ts');
      await until(() => pool.count('a.ts') > before, 'a.ts to be parsed once its safety interval passed');
    } finally {
      await p.stop();
    }
  });
});

describe('the file-watch trigger', () => {
  it('a change to a helper queues the files importing it at once, whatever their interval', async () => {
    const pool = new FakePool();
    pool.imports.set('a.ts', ['lib/helper.ts']);
    const p = running(config({ numRuns: null, minFileProcessInterval: 3600, fileWatch: true }), pool);
    try {
      await until(() => pool.parsed.length === 3, 'the first pass');
      writeFileSync(join(fx.dir, 'lib', 'helper.ts'), 'export const owner = "watched";\n');
      await until(() => pool.count('a.ts') === 2, 'a.ts to be parsed again on the event');
      expect(pool.count('b.ts')).toBe(1);
    } finally {
      await p.stop();
    }
  });

  it('an edited DAG file is parsed at once, whatever its interval', async () => {
    const pool = new FakePool();
    // alphabetical: the listing's mtime alone does not make a file due.
    const p = running(config({ numRuns: null, minFileProcessInterval: 3600, fileWatch: true, fileSortMode: 'alphabetical' }), pool);
    try {
      await until(() => pool.parsed.length === 3, 'the first pass');
      writeFileSync(join(fx.dir, 'b.ts'), '// b, edited\n');
      await until(() => pool.count('b.ts') === 2, 'b.ts to be parsed again on the event');
      expect(pool.count('a.ts')).toBe(1);
    } finally {
      await p.stop();
    }
  });
});
