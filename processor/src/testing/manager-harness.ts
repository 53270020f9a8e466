import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@dagproc/shared/log';
import { createApiClient } from '../api/client.ts';
import type { RetryPolicy } from '../api/resilient-fetch.ts';
import { LocalDagBundle } from '../bundles/index.ts';
import type { ProcessorConfig } from '../config.ts';
import { DagFileProcessorManager } from '../manager.ts';
import type { ParsePool } from '../parse-pool.ts';
import { FakePool } from './fake-pool.ts';

/** A bundle folder with a few files and a token file beside it, for one manager test. */
export interface ManagerFixture {
  dir: string;
  tokenPath: string;
  logs: Record<string, any>[];
  dispose(): Promise<void>;
}

export function managerFixture(files = ['a.ts', 'b.ts', 'c.mjs'], token = 'aaaa.bbbb.cccc'): ManagerFixture {
  const dir = mkdtempSync(join(tmpdir(), 'dagproc-manager-'));
  for (const name of files) writeFileSync(join(dir, name), `// ${name}\n`);
  const tokenPath = `${dir}.token`;
  writeFileSync(tokenPath, token);
  return {
    dir,
    tokenPath,
    logs: [],
    async dispose() {
      await rm(dir, { recursive: true, force: true });
      await rm(tokenPath, { force: true });
    },
  };
}

/** A processor configuration on the fixture's folder, fast enough for tests: --num-runs 1 by default. */
export function managerConfig(fixture: ManagerFixture, apiUrl: string, overrides: Partial<ProcessorConfig> = {}): ProcessorConfig {
  const bundle = { kind: 'local' as const, name: 'dags-folder', path: fixture.dir, configuredPath: fixture.dir, refreshInterval: 0 };
  return {
    apiUrl,
    apiTokenPath: fixture.tokenPath,
    configuredBundles: [bundle],
    bundles: [bundle],
    bundleNameFilter: null,
    numRuns: 1,
    dryRun: false,
    parsingProcesses: 2,
    minFileProcessInterval: 0,
    fileParseTimeout: 5,
    staleDagThreshold: 50,
    heartbeatInterval: 1,
    bundleRefreshInterval: 0,
    fileSortMode: 'alphabetical',
    maxCallbacksPerLoop: 5,
    parsingMode: 'pooled',
    isolateMaxFiles: 100,
    isolateMemoryLimitMb: 128,
    processorGroup: 'default',
    bundleStoragePath: join(fixture.dir, '..', 'bundle-storage-unused'),
    persistBatchSize: 20,
    logLevel: 'debug',
    incrementalParsing: true,
    staticReparseInterval: 600,
    fileWatch: false,
    healthPort: null,
    healthHost: '127.0.0.1',
    healthCheckThreshold: 30,
    printStatsInterval: 0,
    ...overrides,
  };
}

/** A manager with short retries, logging into the fixture's `logs`. */
export function createTestManager(
  fixture: ManagerFixture,
  config: ProcessorConfig,
  pool: ParsePool = new FakePool(),
  retry: RetryPolicy = { attempts: 3, baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 300 },
) {
  const logger = createLogger('processor', { level: 'debug', write: (line) => fixture.logs.push(JSON.parse(line)) });
  const client = createApiClient({ apiUrl: config.apiUrl, tokenPath: config.apiTokenPath, logger, tokenCacheMs: 50, retry });
  const bundles = config.bundles.map((b) => new LocalDagBundle(b.name, b.kind === 'local' ? b.configuredPath : '', 0));
  return new DagFileProcessorManager(config, client, pool, bundles, logger);
}

/** Polls until `check` holds, or fails naming what it waited for. */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
