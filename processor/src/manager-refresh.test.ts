import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@dagproc/shared/log';
import { http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiClient } from './api/client.ts';
import { LocalDagBundle } from './bundles/index.ts';
import type { ProcessorConfig } from './config.ts';
import { DagFileProcessorManager } from './manager.ts';
import { FakeApi, trpcError } from './testing/fake-api.ts';
import { FakePool } from './testing/fake-pool.ts';
import { createTestManager, managerConfig, managerFixture, until, type ManagerFixture } from './testing/manager-harness.ts';

/**
 * The loop's bundle refresh where features meet: --dry-run, the sync throttle, the observer's
 * counts and the file watcher (each test failed before its fix).
 */

let fake: FakeApi;
const server = setupServer();
let fx: ManagerFixture;
let dir: string;

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());
beforeEach(() => {
  fake = new FakeApi();
  server.resetHandlers(...fake.handlers());
  fx = managerFixture();
  ({ dir } = fx);
});
afterEach(() => fx.dispose());

const config = (overrides: Partial<ProcessorConfig> = {}) => managerConfig(fx, fake.url, overrides);
function manager(cfg = config(), pool: FakePool = new FakePool()) {
  return { m: createTestManager(fx, cfg, pool, { attempts: 3, baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 1000 }), pool };
}

/** Records the ids of every claims.completeParseRequests call, then lets the fake answer. */
function recordCompletedIds(): number[] {
  const ids: number[] = [];
  server.use(
    http.post(`${fake.url}/dag-processing/trpc/claims.completeParseRequests`, async ({ request }) => {
      const input = (await request.clone().json()) as { ids: number[] };
      ids.push(...input.ids);
      return undefined;
    }),
  );
  return ids;
}

describe('--dry-run', () => {
  it('writes nothing through the API even when a bundle cannot be read (no bundles.sync with the error)', async () => {
    rmSync(dir, { recursive: true, force: true });
    const { m } = manager(config({ dryRun: true, numRuns: null }));
    const running = m.run();
    await new Promise((r) => setTimeout(r, 1500));
    m.stop();
    await running;
    expect(fake.calls).toEqual([]);
  });
});

describe('bundle sync throttle', () => {
  it("a recovered bundle's error is cleared at the next refresh when the recovery sync failed", async () => {
    let failNextGoodSync = false;
    let refusedRecoverySyncs = 0;
    const goodSyncs: number[] = [];
    server.use(
      http.post(`${fake.url}/dag-processing/trpc/bundles.sync`, async ({ request }) => {
        const input = (await request.clone().json()) as { error?: string };
        if (input.error !== undefined) {
          failNextGoodSync = true;
          return undefined;
        }
        if (failNextGoodSync) {
          failNextGoodSync = false;
          refusedRecoverySyncs++;
          return trpcError(400, 'BAD_REQUEST', 'refused once');
        }
        goodSyncs.push(Date.now());
        return undefined;
      }),
    );
    const { m } = manager(config({ numRuns: null }));
    const running = m.run();
    await until(() => goodSyncs.length === 1, 'first sync');
    rmSync(dir, { recursive: true, force: true });
    await until(() => fake.syncs.some((s) => s.error !== undefined), 'the error recorded');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.ts'), '// a\n');
    // The recovery sync is refused once; the next refreshes (every loop turn) must clear the error.
    const recoveredAt = Date.now();
    await new Promise((r) => setTimeout(r, 3500));
    m.stop();
    await running;
    expect(refusedRecoverySyncs).toBe(1);
    expect(goodSyncs.filter((t) => t > recoveredAt)).not.toHaveLength(0);
  });
});

describe('observer hooks', () => {
  it("a bundle's own failure (missing folder) is not counted as a failed API call", async () => {
    rmSync(dir, { recursive: true, force: true });
    const { m } = manager(config({ numRuns: null }));
    const running = m.run();
    await until(() => fake.syncs.some((s) => s.error !== undefined), 'the error recorded');
    m.stop();
    await running;
    const metrics = m.observer.metrics;
    expect(metrics.bundleRefreshes.get({ bundle: 'dags-folder', outcome: 'failed' })).toBeGreaterThanOrEqual(1);
    // Every API call answered; none failed.
    expect(metrics.apiFailures.get({ kind: 'rejected' })).toBe(0);
  });

  it('a refresh that succeeded is not counted as a failed refresh when a later API step (the sweep) is refused', async () => {
    let refused = 0;
    server.use(
      http.post(`${fake.url}/dag-processing/trpc/dags.sweepStale`, () => {
        refused++;
        return trpcError(400, 'BAD_REQUEST', 'refused');
      }),
    );
    const { m } = manager(config());
    await m.run();
    expect(refused).toBeGreaterThan(0);
    expect(m.observer.metrics.bundleRefreshes.get({ bundle: 'dags-folder', outcome: 'failed' })).toBe(0);
  });

});

function managerWith(cfg: ProcessorConfig, bundles: LocalDagBundle[], pool: FakePool = new FakePool()) {
  const logger = createLogger('processor', { level: 'debug', write: (line) => fx.logs.push(JSON.parse(line)) });
  const client = createApiClient({ apiUrl: cfg.apiUrl, tokenPath: cfg.apiTokenPath, logger, tokenCacheMs: 50, retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 1000 } });
  return new DagFileProcessorManager(cfg, client, pool, bundles, logger);
}

describe('file watcher and the bundle listing', () => {
  it('a file added while a listing is under way (after it read the folder) is still picked up: its relist is not overwritten', async () => {
    let duringListing: (() => Promise<void>) | null = null;
    class SlowListing extends LocalDagBundle {
      override async listFiles() {
        const files = await super.listFiles();
        const hook = duringListing;
        duringListing = null;
        if (hook) await hook();
        return files;
      }
    }
    const pool = new FakePool();
    // Listed at start and then only when the watcher says files came or went.
    const m = managerWith(config({ numRuns: null, fileWatch: true, minFileProcessInterval: 3600 }), [new SlowListing('dags-folder', dir, 3600)], pool);
    const running = m.run();
    try {
      await until(() => pool.parsed.length === 3, 'first pass');
      // x.ts makes the watcher ask for a relist; during that listing (after it read the folder), y.ts appears.
      duringListing = async () => {
        writeFileSync(join(dir, 'y.ts'), '// y\n');
        await new Promise((r) => setTimeout(r, 800)); // the watcher's batch (debounce 100 ms, max 500 ms) lands meanwhile
      };
      writeFileSync(join(dir, 'x.ts'), '// x\n');
      await until(() => pool.parsed.includes('x.ts'), 'x.ts parsed');
      const relistsDuringListing = () => fx.logs.filter((l) => l.msg === 'files changed' && l.relist).length;
      // Two relists: x.ts's, and y.ts's, which came while the listing ran.
      expect(relistsDuringListing()).toBe(2);
      await until(() => pool.parsed.includes('y.ts'), 'y.ts parsed', 4000);
    } finally {
      m.stop();
      await running;
    }
  });
});
