import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializedDagOf } from '@dagproc/shared/testing';
import { dagCollection, dagResponse, dagVersionCollection, dagVersionDetailResponse } from '@dagproc/shared/schemas/api';
import { persistFile, reconcileBundles, startApiTest, type ApiTest } from './testing.ts';

let api: ApiTest;

beforeAll(async () => {
  api = await startApiTest();
  await reconcileBundles(api.ts, ['dags-folder', 'other']);
  await persistFile(api.ts, 'etl/daily.ts', [serializedDagOf('etl_daily', { tags: ['etl', 'prod'] }), serializedDagOf('etl_hourly', { tags: ['etl'] })]);
  await persistFile(api.ts, 'etl/daily.ts', [serializedDagOf('etl_daily', { tags: ['etl', 'prod'], description: 'v2' }), serializedDagOf('etl_hourly', { tags: ['etl'] })], {
    sourceCode: '// second version\n',
  });
  await persistFile(api.ts, 'ml/train.ts', [serializedDagOf('ML_Train', { tags: ['ml'] })]);
  await persistFile(api.ts, 'x.ts', ['other_dag'], { bundleName: 'other' });
  await api.sql("update dag set is_stale = true where dag_id = 'other_dag'");
  await api.sql("insert into import_error (bundle_name, filename, stacktrace, timestamp) values ('dags-folder', 'ml/train.ts', 'Error: boom', now())");
});
afterAll(() => api.close());

const ids = (body: any) => body.dags.map((d: any) => d.dagId);

describe('GET /api/v2/dags', () => {
  it('lists every DAG by dag id with the total, in the documented shape', async () => {
    const res = await api.get('/dags');
    expect(res.status).toBe(200);
    expect(dagCollection.parse(res.body)).toEqual(res.body);
    expect(ids(res.body)).toEqual(['ML_Train', 'etl_daily', 'etl_hourly', 'other_dag'].sort());
    expect(res.body.totalEntries).toBe(4);
    const daily = res.body.dags.find((d: any) => d.dagId === 'etl_daily');
    expect(daily).toMatchObject({
      bundleName: 'dags-folder',
      relativeFileloc: 'etl/daily.ts',
      isStale: false,
      isPaused: false,
      tags: ['etl', 'prod'],
      description: 'v2',
      timetableSummary: '@daily',
      latestVersionNumber: 2,
      hasImportErrors: false,
    });
    expect(res.body.dags.find((d: any) => d.dagId === 'ML_Train').hasImportErrors).toBe(true);
  });

  it.each([
    ['bundleName=other', ['other_dag']],
    ['isStale=true', ['other_dag']],
    ['isStale=false', ['ML_Train', 'etl_daily', 'etl_hourly']],
    ['tag=prod', ['etl_daily']],
    ['tag=prod&tag=ml', ['ML_Train', 'etl_daily']],
    ['dagIdPattern=HOURLY', ['etl_hourly']],
    ['dagIdPattern=etl%25y', ['etl_daily', 'etl_hourly']],
    ['dagIdPattern=train&bundleName=dags-folder', ['ML_Train']],
    ['tag=nothing', []],
    ['dagIdPattern=etl%5C', []],
  ])('filters with %s', async (query, expected) => {
    const res = await api.get(`/dags?${query}`);
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual(expected);
    expect(res.body.totalEntries).toBe(expected.length);
  });

  it('pages with limit and offset, keeping the total of all matches', async () => {
    const res = await api.get('/dags?limit=2&offset=1');
    expect(ids(res.body)).toEqual(['etl_daily', 'etl_hourly']);
    expect(res.body.totalEntries).toBe(4);
  });

  it('ignores query parameters it does not know', async () => {
    const res = await api.get('/dags?order_by=dag_id&whatever=1');
    expect(res.status).toBe(200);
    expect(res.body.totalEntries).toBe(4);
  });
});

describe('GET /api/v2/dags/{dagId}', () => {
  it('answers one DAG with its latest version', async () => {
    const res = await api.get('/dags/etl_hourly');
    expect(res.status).toBe(200);
    expect(dagResponse.parse(res.body)).toMatchObject({ dagId: 'etl_hourly', latestVersionNumber: 1, tags: ['etl'] });
  });

  it('is a 404 naming an unknown DAG', async () => {
    expect(await api.get('/dags/nope')).toMatchObject({ status: 404, body: { detail: "DAG 'nope' not found" } });
  });
});

describe('PATCH /api/v2/dags/{dagId}', () => {
  it('pauses a DAG and records who did it', async () => {
    const res = await api.call('PATCH', '/dags/etl_hourly', { body: { isPaused: true } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ dagId: 'etl_hourly', isPaused: true });
    expect((await api.get('/dags/etl_hourly')).body.isPaused).toBe(true);
    const audit = await api.sql("select owner, dag_id, bundle_name, relative_fileloc, extra from audit_log where event = 'dag.patch'");
    expect(audit).toEqual([
      { owner: 'admin', dag_id: 'etl_hourly', bundle_name: 'dags-folder', relative_fileloc: 'etl/daily.ts', extra: { isPaused: true, wasPaused: false } },
    ]);
    await api.call('PATCH', '/dags/etl_hourly', { body: { isPaused: false } });
    expect((await api.get('/dags/etl_hourly')).body.isPaused).toBe(false);
  });

  it('is a 404 for an unknown DAG, and records nothing', async () => {
    const before = await api.sql("select count(*)::int as n from audit_log where event = 'dag.patch'");
    expect(await api.call('PATCH', '/dags/nope', { body: { isPaused: true } })).toMatchObject({ status: 404 });
    expect(await api.sql("select count(*)::int as n from audit_log where event = 'dag.patch'")).toEqual(before);
  });
});

describe('DAG versions', () => {
  it('lists versions oldest first', async () => {
    const res = await api.get('/dags/etl_daily/versions');
    expect(res.status).toBe(200);
    expect(dagVersionCollection.parse(res.body).dagVersions.map((v) => v.versionNumber)).toEqual([1, 2]);
    expect(res.body.totalEntries).toBe(2);
    expect(res.body.dagVersions[0]).toMatchObject({ dagId: 'etl_daily', bundleName: 'dags-folder', bundleVersion: null });
  });

  it('answers one version with its serialized DAG and source code', async () => {
    const res = await api.get('/dags/etl_daily/versions/2');
    expect(res.status).toBe(200);
    const version = dagVersionDetailResponse.parse(res.body);
    expect(version).toMatchObject({ versionNumber: 2, relativeFileloc: 'etl/daily.ts', sourceCode: '// second version\n' });
    expect(version.data).toEqual(serializedDagOf('etl_daily', { tags: ['etl', 'prod'], description: 'v2' }));
    expect((await api.get('/dags/etl_daily/versions/1')).body.data.description).toBeNull();
  });

  it('is a 404 for a version or DAG that does not exist', async () => {
    expect(await api.get('/dags/etl_daily/versions/3')).toMatchObject({ status: 404, body: { detail: "DAG 'etl_daily' has no version 3" } });
    expect(await api.get('/dags/nope/versions')).toMatchObject({ status: 404, body: { detail: "DAG 'nope' not found" } });
    expect((await api.get('/dags/nope/versions/1')).status).toBe(404);
  });
});

describe('DAGs: bad input', () => {
  it.each([
    ['/dags?limit=0', 'limit: expected a whole number from 1 to 1000'],
    ['/dags?limit=1001', 'limit: expected a whole number from 1 to 1000'],
    ['/dags?limit=ten', 'limit: expected a whole number from 1 to 1000'],
    ['/dags?limit=', 'limit: expected a whole number from 1 to 1000'],
    ['/dags?offset=-1', 'offset: expected a whole number from 0 to 1000000000'],
    ['/dags?limit=1&limit=2', 'limit: given more than once'],
    ['/dags?isStale=yes', 'isStale: expected true or false'],
    ['/dags?bundleName=..%2Fetc', 'bundleName: a bundle name is'],
    ['/dags?dagIdPattern=', 'dagIdPattern:'],
    ['/dags/bad%20id', 'dagId: a dag id is letters'],
    ['/dags/etl_daily/versions/0', 'versionNumber: expected a whole number'],
    ['/dags/etl_daily/versions/v1', 'versionNumber: expected a whole number'],
    ['/dags/etl_daily/versions?limit=x', 'limit:'],
  ])('GET %s is a 400 naming the field', async (path, detail) => {
    const res = await api.get(path);
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain(detail);
  });

  it.each([
    ['{}', 'isPaused: required'],
    ['{"isPaused": "yes"}', 'isPaused: expected boolean, received string'],
    ['{"isPaused": true, "isStale": true}', 'isStale: unknown field'],
    ['[]', 'body: expected object, received array'],
    ['{"isPaused": tru', 'body: not valid JSON'],
    ['', 'body: required'],
  ])('PATCH with %s is a 400 naming the field', async (body, detail) => {
    const res = await api.call('PATCH', '/dags/etl_daily', { body });
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain(detail);
  });
});
