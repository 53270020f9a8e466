import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../testing/server.ts';
import { rows } from '../../testing/sql.ts';

/** Edge cases of claims, jobs and reconcile. */

let ts: TestServer;
let api: ReturnType<TestServer['client']>;
const db = () => ts.testDb.database.db;

beforeAll(async () => {
  ts = await startTestServer();
  api = ts.client(await ts.processorToken());
  await api.bundles.reconcile.mutate({ group: 'g', bundles: [{ name: 'cb', kind: 'local' }] });
});
afterAll(() => ts.close());

describe('callback requests inserted by SQL', () => {
  it('a relative_fileloc outside the bundle is never handed to a processor as-is', async () => {
    await rows(db(), "insert into callback_request (dag_id, bundle_name, relative_fileloc) values ('d1', 'cb', '../outside.ts')");
    const jobId = (await api.jobs.register.mutate({ jobType: 'DagProcessorJob', hostname: 'h', unixname: 'u', pid: 1 })).jobId;
    const { callbacks } = await api.claims.callbacks.mutate({ jobId, bundleNames: ['cb'], limit: 10, leaseSeconds: 60 });
    // The processor's isolate pool throws on such a path (an unhandled rejection in the manager).
    expect(callbacks.map((c) => c.relativeFileloc)).not.toContain('../outside.ts');
  });
});

describe('jobs', () => {
  it("a Job whose state an operator set to Airflow's 'restarting' does not make heartbeat a 500", async () => {
    const { jobId } = await api.jobs.register.mutate({ jobType: 'DagProcessorJob', hostname: 'h', unixname: 'u', pid: 2 });
    await rows(db(), "update job set state = 'restarting' where id = $1", [jobId]);
    const res = await ts.mutate('jobs.heartbeat', { jobId }, await ts.processorToken());
    expect(res.status, JSON.stringify(res.body)).not.toBe(500);
  });

  it("a token limited to bundle 'a' cannot complete another processor's Job", async () => {
    const { jobId } = await api.jobs.register.mutate({ jobType: 'DagProcessorJob', hostname: 'other-host', unixname: 'u', pid: 3 });
    const limited = await ts.processorToken({ bundles: ['a'] });
    await ts.mutate('jobs.complete', { jobId, state: 'failed' }, limited);
    const [row] = await rows(db(), 'select state from job where id = $1', [jobId]);
    expect(row!.state).toBe('running');
  });
});

describe('reconcile racing on a new bundle name', () => {
  it('two groups reconciling the same new bundle at once: one gets it, the other a 409', async () => {
    const token = await ts.processorToken();
    let takeovers = 0;
    for (let i = 0; i < 20; i++) {
      const name = `race-${i}`;
      const [a, b] = await Promise.all(
        ['ga', 'gb'].map((group) => ts.mutate('bundles.reconcile', { group, bundles: [{ name, kind: 'local' }], deactivateOthers: false }, token)),
      );
      if (a!.status === 200 && b!.status === 200) takeovers++;
    }
    expect(takeovers).toBe(0);
  });
});
