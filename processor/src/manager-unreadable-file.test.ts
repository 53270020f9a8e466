import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@dagproc/shared/log';
import { createApiClient } from './api/client.ts';
import { LocalDagBundle } from './bundles/index.ts';
import type { ProcessorConfig } from './config.ts';
import { DagFileProcessorManager } from './manager.ts';
import { FakeApi } from './testing/fake-api.ts';
import { FakePool } from './testing/fake-pool.ts';

/**
 * a file that is listed but cannot be read (EACCES for a processor not running as
 * root) is treated as "gone": its stats are forgotten while it stays listed, so it is re-queued
 * as new at once, forever. The test runs as root, where chmod cannot deny a read, so the read
 * failure is simulated at hashFile.
 */
vi.mock('./bundles/index.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('./bundles/index.ts')>();
  return {
    ...real,
    hashFile: async (path: string) => {
      if (path.endsWith('/locked.ts')) throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES' });
      return real.hashFile(path);
    },
  };
});

const fake = new FakeApi();
const server = setupServer(...fake.handlers());
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

describe('an unreadable DAG file', () => {
  it('--num-runs 1 still terminates, and the file is not re-read in a tight loop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dagproc-edge-locked-'));
    const tokenPath = `${dir}.token`;
    writeFileSync(join(dir, 'ok.ts'), '// ok\n');
    writeFileSync(join(dir, 'locked.ts'), '// locked\n');
    writeFileSync(tokenPath, 'aaaa.bbbb.cccc');
    const bundle = { kind: 'local' as const, name: 'dags-folder', path: dir, configuredPath: dir, refreshInterval: 0 };
    const cfg: ProcessorConfig = {
      apiUrl: fake.url, apiTokenPath: tokenPath, configuredBundles: [bundle], bundles: [bundle], bundleNameFilter: null,
      numRuns: 1, parsingProcesses: 2, minFileProcessInterval: 30, fileParseTimeout: 5, staleDagThreshold: 50,
      heartbeatInterval: 1, bundleRefreshInterval: 0, fileSortMode: 'alphabetical', maxCallbacksPerLoop: 5,
      parsingMode: 'pooled', isolateMaxFiles: 100, isolateMemoryLimitMb: 128, processorGroup: 'default', logLevel: 'error',
    };
    const logger = createLogger('processor', { level: 'error', write: () => {} });
    const client = createApiClient({ apiUrl: fake.url, tokenPath, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20, timeoutMs: 500 } });
    const m = new DagFileProcessorManager(cfg, client, new FakePool(), [new LocalDagBundle('dags-folder', dir, 0)], logger);
    const run = m.run();
    const outcome = await Promise.race([run.then(() => 'finished'), new Promise((r) => setTimeout(() => r('still running after 5 s'), 5_000))]);
    const claimsPerSecond = Math.round(fake.calls.filter((c) => c === 'claims.parseRequests').length / 5);
    m.stop();
    await run;
    await rm(dir, { recursive: true, force: true });
    await rm(tokenPath, { force: true });
    console.log(JSON.stringify({ outcome, claimsPerSecond }));
    expect({ outcome, claimsPerSecond }).toEqual({ outcome: 'finished', claimsPerSecond: expect.any(Number) });
  }, 40_000);
});
