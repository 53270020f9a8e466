import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExposition, type Exposition } from '@dagproc/shared/metrics-parse';
import { persistFile, reconcileBundles, startApiTest, type ApiTest } from './api/testing.ts';
import { classify } from '../metrics.ts';

let api: ApiTest;
beforeAll(async () => {
  api = await startApiTest();
});
afterAll(() => api?.close());

async function scrape(): Promise<{ text: string; metrics: Exposition; contentType: string | null }> {
  const res = await fetch(`${api.ts.url}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, metrics: parseExposition(text), contentType: res.headers.get('content-type') };
}

describe('GET /metrics on a running server', () => {
  it('is open, in the text format 0.0.4, and counts requests by app, procedure and status', async () => {
    const before = (await scrape()).metrics;
    const heartbeat = { app: 'dag-processing', route: 'jobs.heartbeat', method: 'POST' };
    const heartbeatsBefore = before.sum('dagproc_http_requests_total', { ...heartbeat, status: '200' });

    const client = api.ts.client(await api.ts.processorToken());
    const { jobId } = await client.jobs.register.mutate({ jobType: 'DagProcessorJob', hostname: 'h', unixname: 'u', pid: 1 });
    await client.jobs.heartbeat.mutate({ jobId });
    await client.jobs.heartbeat.mutate({ jobId });
    expect((await api.ts.mutate('jobs.heartbeat', { jobId: 'not a number' }, await api.ts.processorToken())).status).toBe(400);
    expect((await api.ts.mutate('jobs.heartbeat', { jobId })).status).toBe(401);
    expect((await api.get('/dags/no_such_dag')).status).toBe(404);
    expect((await api.get('/no/such/route')).status).toBe(404);

    const { text, metrics, contentType } = await scrape();
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(metrics.value('dagproc_http_requests_total', { ...heartbeat, status: '200' })! - heartbeatsBefore).toBe(2);
    expect(metrics.value('dagproc_http_requests_total', { ...heartbeat, status: '400' })).toBe(1);
    expect(metrics.value('dagproc_http_requests_total', { ...heartbeat, status: '401' })).toBe(1);
    expect(metrics.value('dagproc_http_requests_total', { app: 'dag-processing', route: 'jobs.register', status: '200' })).toBe(1);
    // The public API's route template, never the id in the path.
    expect(metrics.value('dagproc_http_requests_total', { app: 'api', route: '/api/v2/dags/:dagId', method: 'GET', status: '404' })).toBe(1);
    expect(metrics.value('dagproc_http_requests_total', { app: 'api', route: '(unmatched)', status: '404' })).toBe(1);
    expect(text).not.toContain('no_such_dag');
    expect(text).not.toContain('no/such/route');

    expect(metrics.families.get('dagproc_http_request_duration_seconds')?.type).toBe('histogram');
    expect(metrics.value('dagproc_http_request_duration_seconds_count', { app: 'dag-processing', route: 'jobs.heartbeat' })).toBeGreaterThanOrEqual(4);
  });

  it('counts stored parse results by outcome', async () => {
    await reconcileBundles(api.ts, ['metrics-bundle']);
    const before = (await scrape()).metrics.sum('dagproc_persist_files_total', { outcome: 'applied' });
    await persistFile(api.ts, 'a.ts', ['metrics_dag'], { bundleName: 'metrics-bundle' });
    const after = (await scrape()).metrics;
    expect(after.value('dagproc_persist_files_total', { outcome: 'applied' })! - before).toBe(1);
    expect(after.value('dagproc_http_requests_total', { route: 'parsing.persist', status: '200' })).toBeGreaterThanOrEqual(1);
  });

  it('shows the database pool: its size, connections in use and waiters', async () => {
    const { metrics } = await scrape();
    const database = api.ts.testDb.database.kind;
    expect(metrics.value('dagproc_db_pool_max_connections', { database })).toBe(database === 'pglite' ? 1 : 10);
    // Nothing else runs during the scrape.
    expect(metrics.value('dagproc_db_pool_connections_in_use', { database })).toBe(0);
    expect(metrics.value('dagproc_db_pool_waiting', { database })).toBe(0);
  });

  it('counts connections held by transactions, and waiters beyond the pool size', async () => {
    const database = api.ts.testDb.database;
    const { max } = database.pool();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // Each transaction holds its connection until the gate opens; two more than the pool holds.
    const held = Array.from({ length: max + 2 }, () => database.db.transaction(() => gate));
    let during = database.pool();
    for (const deadline = Date.now() + 5_000; during.inUse + during.waiting < held.length && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 5));
      during = database.pool();
    }
    open();
    await Promise.all(held);
    expect(during).toEqual({ max, inUse: max, waiting: 2 });
    expect(database.pool()).toEqual({ max, inUse: 0, waiting: 0 });
  });
});

describe('route labels', () => {
  const procedures = new Set(['jobs.heartbeat']);
  it('name a known tRPC procedure, and put anything else in a fixed bucket', () => {
    expect(classify('/dag-processing/trpc/jobs.heartbeat', '/dag-processing/trpc/*', 200, procedures)).toEqual({
      app: 'dag-processing',
      route: 'jobs.heartbeat',
    });
    expect(classify('/dag-processing/trpc/jobs.x1234', '/dag-processing/trpc/*', 404, procedures).route).toBe('(unknown procedure)');
    expect(classify('/dag-processing/trpc/jobs.heartbeat,jobs.heartbeat', '/dag-processing/trpc/*', 200, procedures).route).toBe('(batch)');
    expect(classify('/whatever/123', '/*', 404, procedures)).toEqual({ app: 'server', route: '(unmatched)' });
    expect(classify('/metrics', '/metrics', 200, procedures)).toEqual({ app: 'server', route: '/metrics' });
    expect(classify('/execution/variables/k', '/execution/variables/:key', 404, procedures)).toEqual({
      app: 'execution',
      route: '/execution/variables/:key',
    });
  });
});
