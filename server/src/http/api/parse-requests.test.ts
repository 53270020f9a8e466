import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRequestResponse } from '@dagproc/shared/schemas/api';
import { persistFile, reconcileBundles, startApiTest, type ApiTest } from './testing.ts';

let api: ApiTest;

beforeAll(async () => {
  api = await startApiTest();
  await reconcileBundles(api.ts, ['dags-folder', 'other']);
  await persistFile(api.ts, 'etl/daily.ts', ['etl_daily']);
});
afterAll(() => api.close());

const post = (body: unknown) => api.call('POST', '/parseRequests', { body });
const pending = () => api.sql('select id::int as id, bundle_name, relative_fileloc from dag_priority_parsing_request order by id');

describe('POST /api/v2/parseRequests', () => {
  it('queues a file by bundle and path, as Airflow\'s "reparse", and records who asked', async () => {
    const res = await post({ bundleName: 'other', relativeFileloc: 'new/file.ts' });
    expect(res.status).toBe(201);
    expect(parseRequestResponse.parse(res.body)).toMatchObject({ bundleName: 'other', relativeFileloc: 'new/file.ts' });
    expect(await pending()).toEqual([{ id: res.body.id, bundle_name: 'other', relative_fileloc: 'new/file.ts' }]);
    const audit = await api.sql("select owner, bundle_name, relative_fileloc, dag_id, extra from audit_log where event = 'parseRequest.create'");
    expect(audit).toEqual([
      { owner: 'admin', bundle_name: 'other', relative_fileloc: 'new/file.ts', dag_id: null, extra: { parseRequestId: res.body.id, alreadyQueued: false } },
    ]);
  });

  it("queues a DAG's own file when given a dag id", async () => {
    const res = await post({ dagId: 'etl_daily' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ bundleName: 'dags-folder', relativeFileloc: 'etl/daily.ts' });
  });

  it('a request for a file already waiting answers the waiting one instead of queuing twice', async () => {
    const before = await pending();
    const again = await post({ bundleName: 'dags-folder', relativeFileloc: 'etl/daily.ts' });
    expect(again.status).toBe(200);
    expect(await pending()).toEqual(before);
    expect(before.map((r) => r.id)).toContain(again.body.id);
  });

  it('a request already claimed by a processor does not answer for a new one', async () => {
    const processor = api.ts.client(await api.ts.processorToken());
    const { jobId } = await processor.jobs.register.mutate({ jobType: 'DagProcessorJob', hostname: 'h', unixname: 'u', pid: 1 });
    const claimed = await processor.claims.parseRequests.mutate({ jobId, bundleNames: ['dags-folder'], limit: 10, leaseSeconds: 300 });
    expect(claimed.requests.map((r) => r.relativeFileloc)).toContain('etl/daily.ts');
    const res = await post({ dagId: 'etl_daily' });
    expect(res.status).toBe(201);
    expect(claimed.requests.map((r) => r.id)).not.toContain(res.body.id);
  });

  it('is a 404 naming an unknown DAG or bundle, and queues nothing', async () => {
    const before = await pending();
    expect(await post({ dagId: 'nope' })).toMatchObject({ status: 404, body: { detail: "DAG 'nope' not found" } });
    expect(await post({ bundleName: 'nope', relativeFileloc: 'a.ts' })).toMatchObject({ status: 404, body: { detail: "bundle 'nope' not found" } });
    expect(await pending()).toEqual(before);
  });
});

describe('POST /api/v2/parseRequests: bad input', () => {
  it.each([
    [{ bundleName: 'dags-folder', relativeFileloc: '../etc/passwd' }, 'relativeFileloc: a file path must stay inside its bundle'],
    [{ bundleName: 'dags-folder', relativeFileloc: '/etc/passwd' }, 'relativeFileloc: a file path must be relative'],
    [{ bundleName: 'dags-folder', relativeFileloc: 'a\\b.ts' }, 'relativeFileloc: a file path uses "/"'],
    [{ bundleName: 'dags-folder', relativeFileloc: '' }, 'relativeFileloc: a file path must not be empty'],
    [{ bundleName: '../x', relativeFileloc: 'a.ts' }, 'bundleName: a bundle name is'],
    [{ dagId: 'bad id' }, 'dagId: a dag id is letters'],
    [{ dagId: 7 }, 'dagId: expected string, received number'],
    [{ bundleName: 'dags-folder' }, 'body: give either bundleName and relativeFileloc, or dagId'],
    [{}, 'body: give either bundleName and relativeFileloc, or dagId'],
    [{ dagId: 'etl_daily', bundleName: 'dags-folder' }, 'bundleName: unknown field'],
    [[], 'body: expected object, received array'],
    ['{"dagId": ', 'body: not valid JSON'],
  ])('%j is a 400: %s', async (body, detail) => {
    const before = await pending();
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain(detail);
    expect(await pending()).toEqual(before);
  });
});
