import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callbackRequestResponse } from '@dagproc/shared/schemas/api';
import { persistFile, reconcileBundles, startApiTest, type ApiTest } from './testing.ts';

let api: ApiTest;

beforeAll(async () => {
  api = await startApiTest();
  await reconcileBundles(api.ts, ['dags-folder']);
  await persistFile(api.ts, 'etl.ts', ['etl_daily']);
});
afterAll(() => api.close());

const post = (body: unknown) => api.call('POST', '/callbackRequests', { body });
const queued = () => api.sql('select id::int as id, dag_id, callback_type, run_id, msg, context from callback_request order by id');

describe('POST /api/v2/callbackRequests', () => {
  it('queues a callback that the processor serving the bundle then claims', async () => {
    const res = await post({ dagId: 'etl_daily', callbackType: 'failure', runId: 'manual__1', msg: 'task extract failed', context: { tries: 3, hosts: ['a'] } });
    expect(res.status).toBe(201);
    expect(callbackRequestResponse.parse(res.body)).toMatchObject({
      dagId: 'etl_daily', callbackType: 'failure', runId: 'manual__1', msg: 'task extract failed', context: { tries: 3, hosts: ['a'] },
    });
    const processor = api.ts.client(await api.ts.processorToken());
    const { jobId } = await processor.jobs.register.mutate({ jobType: 'DagProcessorJob', hostname: 'h', unixname: 'u', pid: 1 });
    const { callbacks } = await processor.claims.callbacks.mutate({ jobId, bundleNames: ['dags-folder'], limit: 10, leaseSeconds: 60 });
    expect(callbacks).toEqual([
      expect.objectContaining({ id: res.body.id, dagId: 'etl_daily', bundleName: 'dags-folder', relativeFileloc: 'etl.ts', callbackType: 'failure', context: { tries: 3, hosts: ['a'] } }),
    ]);
    const audit = await api.sql("select owner, dag_id, bundle_name, relative_fileloc, extra from audit_log where event = 'callbackRequest.create'");
    expect(audit).toEqual([
      { owner: 'admin', dag_id: 'etl_daily', bundle_name: 'dags-folder', relative_fileloc: 'etl.ts', extra: { callbackRequestId: res.body.id, callbackType: 'failure', runId: 'manual__1' } },
    ]);
  });

  it('defaults the optional fields', async () => {
    const res = await post({ dagId: 'etl_daily', callbackType: 'success' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ runId: null, msg: null, context: {} });
  });

  it('is a 404 for an unknown DAG, and queues nothing', async () => {
    const before = await queued();
    expect(await post({ dagId: 'nope', callbackType: 'failure' })).toMatchObject({ status: 404, body: { detail: "DAG 'nope' not found" } });
    expect(await queued()).toEqual(before);
  });

  it.each([
    [{ dagId: 'etl_daily', callbackType: 'retry' }, 'callbackType: Invalid option'],
    [{ dagId: 'etl_daily' }, 'callbackType: required'],
    [{ callbackType: 'failure' }, 'dagId: required'],
    [{ dagId: 'etl_daily', callbackType: 'failure', context: [] }, 'context: expected record, received array'],
    [{ dagId: 'etl_daily', callbackType: 'failure', context: { a: { b: undefined, c: [1, {}] } }, priority: 3 }, 'priority: unknown field'],
    [{ dagId: 'etl_daily', callbackType: 'failure', runId: '' }, 'runId:'],
    ['null', 'body: expected object, received null'],
  ])('%j is a 400: %s', async (body, detail) => {
    const before = await queued();
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain(detail);
    expect(await queued()).toEqual(before);
  });
});
