import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleCollection } from '@dagproc/shared/schemas/api';
import { persistFile, reconcileBundles, startApiTest, type ApiTest } from './testing.ts';

let api: ApiTest;

beforeAll(async () => {
  api = await startApiTest();
  await reconcileBundles(api.ts, ['dags-folder', 'team-b'], 'group-1');
  await persistFile(api.ts, 'a.ts', ['a1', 'a2']);
  await persistFile(api.ts, 'gone.ts', ['gone']);
  await api.sql("update dag set is_stale = true where dag_id = 'gone'");
  await persistFile(api.ts, 'bad.ts', [], { bundleName: 'team-b', importError: { stacktrace: 'Error: x' } });
  const client = api.ts.client(await api.ts.processorToken());
  await client.bundles.sync.mutate({ name: 'team-b', version: 'abc123', lastRefreshed: '2026-03-01T10:00:00.000Z' });
});
afterAll(() => api.close());

describe('GET /api/v2/bundles', () => {
  it('lists bundles by name with their live DAGs and import errors', async () => {
    const res = await api.get('/bundles');
    expect(res.status).toBe(200);
    expect(bundleCollection.parse(res.body)).toEqual({
      bundles: [
        { name: 'dags-folder', kind: 'local', active: true, processorGroup: 'group-1', version: null, lastRefreshed: null, lastError: null, lastErrorAt: null, dagCount: 2, importErrorCount: 0 },
        { name: 'team-b', kind: 'local', active: true, processorGroup: 'group-1', version: 'abc123', lastRefreshed: '2026-03-01T10:00:00.000Z', lastError: null, lastErrorAt: null, dagCount: 0, importErrorCount: 1 },
      ],
      totalEntries: 2,
    });
  });

  it("shows why a bundle's latest refresh failed, beside its last good version", async () => {
    const client = api.ts.client(await api.ts.processorToken());
    await client.bundles.sync.mutate({ name: 'team-b', error: 'fetching branch "main" failed: Authentication failed' });
    const res = await api.get('/bundles');
    const teamB = bundleCollection.parse(res.body).bundles.find((b) => b.name === 'team-b')!;
    expect(teamB).toMatchObject({ version: 'abc123', lastError: 'fetching branch "main" failed: Authentication failed' });
    expect(Date.parse(teamB.lastErrorAt!)).toBeGreaterThan(Date.parse('2026-01-01'));
    await client.bundles.sync.mutate({ name: 'team-b', version: 'abc123', lastRefreshed: '2026-03-01T10:00:00.000Z' });
  });

  it('pages', async () => {
    const res = await api.get('/bundles?limit=1&offset=1');
    expect(res.body.bundles.map((b: any) => b.name)).toEqual(['team-b']);
    expect(res.body.totalEntries).toBe(2);
  });

  it('a bad limit is a 400 naming it', async () => {
    expect(await api.get('/bundles?limit=1e3')).toMatchObject({ status: 400, body: { detail: expect.stringContaining('limit:') } });
  });
});
