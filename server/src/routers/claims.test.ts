import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { persistInputOf, serializedDagOf } from '@dagproc/shared/testing';
import { startTestServer, type TestServer } from '../testing/server.ts';
import { rows } from '../testing/sql.ts';

let ts: TestServer;
let api: ReturnType<TestServer['client']>;
let jobA: number;
let jobB: number;
const db = () => ts.testDb.database.db;
const me = { jobType: 'DagProcessorJob' as const, hostname: 'h', unixname: 'u', pid: 1 };

beforeAll(async () => {
  ts = await startTestServer();
  api = ts.client(await ts.processorToken());
  await api.bundles.reconcile.mutate({ group: 'g', bundles: ['pr', 'cb', 'other'].map((name) => ({ name, kind: 'local' as const })) });
  jobA = (await api.jobs.register.mutate(me)).jobId;
  jobB = (await api.jobs.register.mutate(me)).jobId;
});
afterAll(() => ts.close());

async function insertParseRequests(bundle: string, n: number) {
  for (let i = 0; i < n; i++) {
    await rows(db(), 'insert into dag_priority_parsing_request (bundle_name, relative_fileloc) values ($1, $2)', [bundle, `f${i}.ts`]);
  }
}

describe('claims: priority parse requests', () => {
  it('two jobs claiming at once get disjoint sets covering every request', async () => {
    await insertParseRequests('pr', 40);
    const claim = (jobId: number) => api.claims.parseRequests.mutate({ jobId, bundleNames: ['pr'], limit: 25, leaseSeconds: 60 });
    const [a, b] = await Promise.all([claim(jobA), claim(jobB)]);
    const ids = [...a!.requests, ...b!.requests].map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(40);
    // Nothing left to hand out while the leases hold.
    expect((await claim(jobA)).requests).toEqual([]);
  });

  it('a lapsed lease is claimable again, and the row stays until the parse is persisted', async () => {
    await rows(db(), 'delete from dag_priority_parsing_request');
    await insertParseRequests('pr', 1);
    const [first] = (await api.claims.parseRequests.mutate({ jobId: jobA, bundleNames: ['pr'], limit: 5, leaseSeconds: 60 })).requests;
    expect(first).toMatchObject({ bundleName: 'pr', relativeFileloc: 'f0.ts' });
    await rows(db(), "update dag_priority_parsing_request set lease_expires_at = now() - interval '1 second'");
    const [again] = (await api.claims.parseRequests.mutate({ jobId: jobB, bundleNames: ['pr'], limit: 5, leaseSeconds: 60 })).requests;
    expect(again!.id).toBe(first!.id);
    await api.parsing.persist.mutate(persistInputOf('f0.ts', [serializedDagOf('pr_f0')], { bundleName: 'pr', priorityRequestIds: [first!.id] }));
    expect(await rows(db(), 'select * from dag_priority_parsing_request')).toEqual([]);
  });

  it("hands out only the caller's bundles, oldest first", async () => {
    await rows(db(), 'delete from dag_priority_parsing_request');
    await rows(db(), "insert into dag_priority_parsing_request (bundle_name, relative_fileloc, created_at) values ('other', 'o.ts', now() - interval '1 hour'), ('pr', 'new.ts', now()), ('pr', 'old.ts', now() - interval '1 minute')");
    const { requests } = await api.claims.parseRequests.mutate({ jobId: jobA, bundleNames: ['pr'], limit: 10, leaseSeconds: 60 });
    expect(requests.map((r) => r.relativeFileloc)).toEqual(['old.ts', 'new.ts']);
  });

  it('completeParseRequests deletes requests needing no parse, only for the holding job', async () => {
    await rows(db(), 'delete from dag_priority_parsing_request');
    await insertParseRequests('pr', 1);
    const [req] = (await api.claims.parseRequests.mutate({ jobId: jobA, bundleNames: ['pr'], limit: 1, leaseSeconds: 60 })).requests;
    expect(await api.claims.completeParseRequests.mutate({ jobId: jobB, ids: [req!.id] })).toEqual({ deleted: 0 });
    expect(await api.claims.completeParseRequests.mutate({ jobId: jobA, ids: [req!.id] })).toEqual({ deleted: 1 });
  });
});

describe('claims: callbacks', () => {
  it('a callback inserted by SQL with only a dag_id takes its bundle and file from the DAG', async () => {
    await api.parsing.persist.mutate(persistInputOf('cb/etl.ts', [serializedDagOf('cb_etl')], { bundleName: 'cb' }));
    await rows(db(), "insert into callback_request (dag_id, run_id, msg, context) values ('cb_etl', 'run-1', 'task failed', '{\"ti\": \"load\"}')");
    const { callbacks } = await api.claims.callbacks.mutate({ jobId: jobA, bundleNames: ['cb'], limit: 10, leaseSeconds: 60 });
    expect(callbacks).toEqual([
      expect.objectContaining({
        dagId: 'cb_etl',
        bundleName: 'cb',
        relativeFileloc: 'cb/etl.ts',
        callbackType: 'failure',
        runId: 'run-1',
        msg: 'task failed',
        context: { ti: 'load' },
        attempts: 1,
      }),
    ]);
    const ack = await api.claims.ackCallback.mutate({ jobId: jobA, id: callbacks[0]!.id, outcome: 'success' });
    expect(ack).toEqual({ acknowledged: true });
    expect(await rows(db(), 'select * from callback_request')).toEqual([]);
    const [audit] = await rows(db(), "select event, dag_id from audit_log where event like 'callback.%'");
    expect(audit).toEqual({ event: 'callback.success', dag_id: 'cb_etl' });
  });

  it('concurrent claims never hand one callback to two jobs; a lapsed lease goes back to the queue', async () => {
    for (let i = 0; i < 30; i++) await rows(db(), "insert into callback_request (dag_id) values ('cb_etl')");
    const claim = (jobId: number) => api.claims.callbacks.mutate({ jobId, bundleNames: ['cb'], limit: 20, leaseSeconds: 60 });
    const [a, b] = await Promise.all([claim(jobA), claim(jobB)]);
    const ids = [...a!.callbacks, ...b!.callbacks].map((c) => c.id);
    expect(new Set(ids).size).toBe(30);
    expect(ids).toHaveLength(30);

    // jobA dies: its leases lapse, jobB picks them up, and jobA's late ack is refused.
    const aIds = a!.callbacks.map((c) => c.id);
    await rows(db(), `update callback_request set lease_expires_at = now() - interval '1 second' where claimed_by_job_id = $1`, [jobA]);
    const retaken = await claim(jobB);
    expect(retaken.callbacks.map((c) => c.id).sort()).toEqual([...aIds].sort());
    expect(retaken.callbacks.every((c) => c.attempts === 2)).toBe(true);
    expect(await api.claims.ackCallback.mutate({ jobId: jobA, id: aIds[0]!, outcome: 'success' })).toEqual({ acknowledged: false });
    await rows(db(), 'delete from callback_request');
  });

  it('an unknown callback type inserted by SQL is refused by the database', async () => {
    await expect(rows(db(), "insert into callback_request (dag_id, callback_type) values ('x', 'explode')")).rejects.toThrow();
  });
});
