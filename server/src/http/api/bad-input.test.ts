import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../app.ts';
import { apiOperations } from './index.ts';
import { operationSamples, persistFile, reconcileBundles, startApiTest, type ApiTest } from './testing.ts';

/** Input checks every route shares; each resource's own file tests its fields. */

let api: ApiTest;

beforeAll(async () => {
  api = await startApiTest();
  await reconcileBundles(api.ts, ['dags-folder']);
  await persistFile(api.ts, 'etl.ts', ['etl_daily']);
});
afterAll(() => api.close());

const withBody = apiOperations.filter((o) => o.body).map((o) => [o.operationId]);
const withQuery = apiOperations.filter((o) => o.query).map((o) => [o.operationId]);
/** Collections: their query has Airflow's paging. */
const paged = apiOperations.filter((o) => o.query && 'limit' in o.query.shape).map((o) => [o.operationId]);
const withParams = apiOperations.filter((o) => o.params).map((o) => [o.operationId]);
// A field as the client sent it: `$ne: unknown field` names what was wrong too.
const DETAIL = /^[A-Za-z0-9_.$]+: \S/;

describe('bodies', () => {
  it.each(withBody)('%s: malformed JSON is a 400 saying so', async (operationId) => {
    const sample = operationSamples[operationId]!;
    const res = await api.call(sample.method, sample.path, { body: '{"broken": ' });
    expect(res).toMatchObject({ status: 400, body: { detail: 'body: not valid JSON' } });
  });

  it.each(withBody)('%s: no body is a 400 saying one is required', async (operationId) => {
    const sample = operationSamples[operationId]!;
    const res = await api.call(sample.method, sample.path);
    expect(res).toMatchObject({ status: 400, body: { detail: expect.stringMatching(/^body: required/) } });
  });

  it.each(withBody)('%s: every shape of garbage is a 400 naming a field, never a 500', async (operationId) => {
    const sample = operationSamples[operationId]!;
    const garbage = ['null', '[]', '"x"', '12', 'true', '{}', '{"$ne": 1}', '{"dagId": {"$gt": ""}}', '[{"a": 1}]', `{"x": "${'y'.repeat(10_000)}"}`];
    for (const body of garbage) {
      const res = await api.call(sample.method, sample.path, { body });
      expect(res.status, `${operationId} with ${body.slice(0, 40)}`).toBe(400);
      expect(res.body.detail, `${operationId} with ${body.slice(0, 40)}`).toMatch(DETAIL);
    }
  });

  it('a body over DAGPROC_MAX_BODY_BYTES is a 413 naming the limit, and nothing is stored', async () => {
    const deps = api.ts.server.deps;
    const app = createApp({ ...deps, limits: { ...deps.limits, maxBodyBytes: 1024 } });
    const res = await app.request('/api/v2/variables/big', {
      method: 'PUT',
      headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ value: 'x'.repeat(2048) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { detail: string }).detail).toContain('DAGPROC_MAX_BODY_BYTES');
    expect(await api.sql("select * from variable where key = 'big'")).toEqual([]);
  });
});

describe('query parameters', () => {
  it.each(paged)('%s: a bad value of a known parameter is a 400 naming it', async (operationId) => {
    const sample = operationSamples[operationId]!;
    const path = sample.path.split('?')[0]!;
    expect(await api.call(sample.method, `${path}?limit=lots`)).toMatchObject({ status: 400, body: { detail: expect.stringMatching(/^limit: /) } });
    expect(await api.call(sample.method, `${path}?offset=1&offset=2`)).toMatchObject({ status: 400, body: { detail: 'offset: given more than once' } });
  });

  it.each(withQuery)('%s: unknown parameters are ignored', async (operationId) => {
    const sample = operationSamples[operationId]!;
    const path = sample.path.split('?')[0]!;
    const res = await api.call(sample.method, `${path}?order_by=-id&fields=all`);
    expect(res.status).not.toBe(400);
    expect(res.status).toBeLessThan(500);
  });
});

describe('path parameters', () => {
  it.each(withParams)('%s: a malformed path value is a 400 naming it', async (operationId) => {
    const op = apiOperations.find((o) => o.operationId === operationId)!;
    const sample = operationSamples[operationId]!;
    // Swap each path parameter in turn for something no schema accepts.
    const names = [...op.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
    const sampleSegments = sample.path.split('?')[0]!.split('/');
    const templateSegments = op.path.split('/');
    for (const name of names) {
      const segments = templateSegments.map((segment, i) => (segment === `:${name}` ? 'no%20such%00thing' : sampleSegments[i]!));
      const res = await api.call(sample.method, segments.join('/'), { body: sample.body });
      expect(res.status, `${operationId} with a bad ${name}`).toBe(400);
      expect(res.body.detail).toMatch(new RegExp(`^${name}: `));
    }
  });
});

describe('unknown routes', () => {
  it('an unknown path under /api/v2 is a 404', async () => {
    expect((await api.get('/nothing-here')).status).toBe(404);
  });

  it('a known path with another method is a 404, not a 500', async () => {
    expect((await api.call('DELETE', '/dags')).status).toBe(404);
  });
});
