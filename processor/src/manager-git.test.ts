import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@dagproc/shared/log';
import { createApiClient } from './api/client.ts';
import { GitDagBundle } from './bundles/git.ts';
import { LocalDagBundle } from './bundles/index.ts';
import type { GitBundleConfig } from './config.ts';
import { DagFileProcessorManager } from './manager.ts';
import { FakeApi } from './testing/fake-api.ts';
import { FakePool } from './testing/fake-pool.ts';
import { tempDir, TestRepo } from './testing/git.ts';
import { managerConfig, managerFixture, until, type ManagerFixture } from './testing/manager-harness.ts';

/** The manager with git bundles: versions recorded per parse, failures reported and retried. */

let fake: FakeApi;
const server = setupServer();
let fx: ManagerFixture;
let dir: string;
let repo: TestRepo;

beforeAll(() => server.listen({ onUnhandledRequest: 'bypass' }));
afterAll(() => server.close());
beforeEach(async () => {
  fake = new FakeApi();
  server.resetHandlers(...fake.handlers());
  fx = managerFixture();
  dir = await tempDir('dagproc-manager-git-');
  repo = await TestRepo.create(dir);
});
afterEach(async () => {
  await fx.dispose();
  await rm(dir, { recursive: true, force: true });
});

function gitBundle(name: string, overrides: Partial<GitBundleConfig> = {}): GitDagBundle {
  return new GitDagBundle({
    config: { kind: 'git', name, url: repo.fileUrl, branch: 'main', tag: null, commit: null, subdir: null, connId: null, refreshInterval: 1, ...overrides },
    storagePath: join(dir, 'storage'),
    readConnection: async () => null,
  });
}

function start(bundles: (GitDagBundle | LocalDagBundle)[], pool = new FakePool()) {
  // These tests count parses of unchanged files, which incremental parsing would skip.
  const config = managerConfig(fx, fake.url, { numRuns: null, minFileProcessInterval: 0, incrementalParsing: false });
  const logger = createLogger('processor', { level: 'debug', write: (line) => fx.logs.push(JSON.parse(line)) });
  const client = createApiClient({ apiUrl: config.apiUrl, tokenPath: config.apiTokenPath, logger, tokenCacheMs: 50 });
  const manager = new DagFileProcessorManager(config, client, pool, bundles, logger);
  const running = manager.run();
  return { manager, pool, stop: async () => { manager.stop(); await running; } };
}

const persistedFor = (bundleName: string) => fake.persisted.filter((p) => p.bundleName === bundleName);

describe('the manager with a git bundle', () => {
  it('parses each file from the checkout of a commit and records that commit, moving to a new commit on refresh', async () => {
    const a = await repo.commit({ 'one.ts': 'x' });
    const { stop } = start([gitBundle('repo')]);
    try {
      await until(() => persistedFor('repo').some((p) => p.bundleVersion === a), 'a parse at commit A');
      expect(fake.syncs).toContainEqual(expect.objectContaining({ name: 'repo', version: a }));
      const b = await repo.commit({ 'two.ts': 'y' });
      await until(() => persistedFor('repo').some((p) => p.relativeFileloc === 'two.ts' && p.bundleVersion === b), 'two.ts parsed at B');
      await until(() => fake.syncs.some((s) => s.version === b), 'version B synced');
    } finally {
      await stop();
    }
  });

  it('reports a failing bundle with its reason, parses the others, and retries at the refresh interval rather than every loop', async () => {
    await repo.commit({ 'one.ts': 'x' });
    const local = new LocalDagBundle('dags-folder', fx.dir, 0);
    const { stop } = start([gitBundle('broken', { branch: 'nope' }), local]);
    try {
      await until(() => fake.syncs.filter((s) => s.name === 'broken' && s.error).length >= 2, 'two failure reports');
      const failures = fake.syncs.filter((s) => s.name === 'broken');
      expect(failures.every((s) => s.error?.includes("couldn't find remote ref refs/heads/nope"))).toBe(true);
      expect(failures.every((s) => s.version === undefined)).toBe(true);
      await until(() => persistedFor('dags-folder').length > 0, 'the local bundle parsed');
      expect(fx.logs.some((l) => l.msg === 'refreshing bundle broken failed; skipped this cycle')).toBe(true);
      // The loop runs many times a second here (each finished parse wakes it) while heartbeats
      // go once a second, as the one-second refresh interval: a retry on every loop would
      // outrun the heartbeats many times over.
      expect(failures.length).toBeLessThanOrEqual(fake.heartbeats + 2);
    } finally {
      await stop();
    }
  });

  it('claims no parse requests or callbacks for a bundle that was never fetched: its files are unknown, not gone', async () => {
    await repo.commit({ 'one.ts': 'x' });
    const claimed: { path: string; bundleNames: string[] }[] = [];
    server.use(
      http.post(`${fake.url}/dag-processing/trpc/:path`, async ({ request, params }) => {
        const path = String(params.path);
        if (path === 'claims.parseRequests' || path === 'claims.callbacks') {
          claimed.push({ path, bundleNames: ((await request.clone().json()) as { bundleNames: string[] }).bundleNames });
        }
        return undefined; // on to the fake API's own handler
      }),
    );
    const { stop } = start([gitBundle('broken', { url: `file://${dir}/missing.git` }), gitBundle('repo')]);
    try {
      await until(() => claimed.length >= 4, 'a few claims');
      expect(new Set(claimed.flatMap((c) => c.bundleNames))).toEqual(new Set(['repo']));
    } finally {
      await stop();
    }
  });

  it('goes on parsing the last good checkout when a fetch fails, and clears the error once a fetch works', async () => {
    const a = await repo.commit({ 'one.ts': 'x' });
    const { stop } = start([gitBundle('repo')]);
    try {
      await until(() => persistedFor('repo').length > 0, 'a first parse');
      await rename(repo.bare, `${repo.bare}.away`);
      await until(() => fake.syncs.some((s) => s.error?.includes('does not appear to be a git repository')), 'the failure reported');
      const before = persistedFor('repo').length;
      await until(() => persistedFor('repo').length > before + 1, 'parses going on');
      expect(persistedFor('repo').slice(before).every((p) => p.bundleVersion === a)).toBe(true);
      await rename(`${repo.bare}.away`, repo.bare);
      const b = await repo.commit({ 'two.ts': 'y' });
      await until(() => fake.syncs.some((s) => s.version === b), 'the next good refresh');
    } finally {
      await stop();
    }
  });
});
