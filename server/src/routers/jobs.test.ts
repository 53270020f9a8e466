import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/server.ts';
import { rows } from '../testing/sql.ts';

let ts: TestServer;
let api: ReturnType<TestServer['client']>;

beforeAll(async () => {
  ts = await startTestServer();
  api = ts.client(await ts.processorToken());
});
afterAll(() => ts.close());

const me = { jobType: 'DagProcessorJob' as const, hostname: 'host-a', unixname: 'airflow', pid: 4242 };

describe('jobs', () => {
  it('register records the processor as a running Job with its hostname, unixname and pid', async () => {
    const { jobId } = await api.jobs.register.mutate(me);
    const [job] = await rows(ts.testDb.database.db, 'select * from job where id = $1', [jobId]);
    expect(job).toMatchObject({ job_type: 'DagProcessorJob', state: 'running', hostname: 'host-a', unixname: 'airflow', pid: 4242 });
    expect(job!.end_date).toBeNull();
  });

  it('a retried register with the same registration id returns the same Job', async () => {
    const registrationId = randomUUID();
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => api.jobs.register.mutate({ ...me, registrationId })));
    expect(new Set([a!.jobId, b!.jobId, c!.jobId]).size).toBe(1);
    const [n] = await rows(ts.testDb.database.db, 'select count(*)::int as n from job where registration_id = $1', [registrationId]);
    expect(n!.n).toBe(1);
  });

  it('heartbeat moves latest_heartbeat forward on the server clock', async () => {
    const { jobId } = await api.jobs.register.mutate(me);
    const [before] = await rows(ts.testDb.database.db, 'select latest_heartbeat from job where id = $1', [jobId]);
    await new Promise((r) => setTimeout(r, 20));
    const beat = await api.jobs.heartbeat.mutate({ jobId });
    expect(beat.state).toBe('running');
    expect(Date.parse(beat.latestHeartbeat)).toBeGreaterThan(new Date(before!.latest_heartbeat).getTime());
  });

  it('complete ends the Job; completing again is harmless and a later heartbeat reports the end state', async () => {
    const { jobId } = await api.jobs.register.mutate(me);
    expect(await api.jobs.complete.mutate({ jobId, state: 'success' })).toEqual({ state: 'success' });
    expect(await api.jobs.complete.mutate({ jobId, state: 'failed' })).toEqual({ state: 'success' });
    const [job] = await rows(ts.testDb.database.db, 'select state, end_date from job where id = $1', [jobId]);
    expect(job!.state).toBe('success');
    expect(job!.end_date).not.toBeNull();
    expect((await api.jobs.heartbeat.mutate({ jobId })).state).toBe('success');
  });

  it('alive lists running Jobs with a recent heartbeat only', async () => {
    const host = `alive-${randomUUID()}`;
    const { jobId: fresh } = await api.jobs.register.mutate({ ...me, hostname: host });
    const { jobId: old } = await api.jobs.register.mutate({ ...me, hostname: host });
    const { jobId: done } = await api.jobs.register.mutate({ ...me, hostname: host });
    await rows(ts.testDb.database.db, "update job set latest_heartbeat = now() - interval '10 minutes' where id = $1", [old]);
    await api.jobs.complete.mutate({ jobId: done, state: 'success' });
    const { jobs } = await api.jobs.alive.query({ hostname: host, thresholdSeconds: 30 });
    expect(jobs.map((j) => j.id)).toEqual([fresh]);
  });

  it('an unknown job is a 404 naming it', async () => {
    const res = await ts.mutate('jobs.heartbeat', { jobId: 999_999 }, await ts.processorToken());
    expect(res.status).toBe(404);
    expect(res.body.error.message).toContain('job 999999 does not exist');
  });

  it.each([
    [{ ...me, pid: -1 }, 'input.pid'],
    [{ ...me, hostname: '' }, 'input.hostname'],
    [{ ...me, jobType: 'SchedulerJob' }, 'input.jobType'],
    [{ ...me, registrationId: 'not-a-uuid' }, 'input.registrationId'],
  ])('register refuses bad input %# with a 400 naming the field', async (input, field) => {
    const res = await ts.mutate('jobs.register', input, await ts.processorToken());
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(field);
  });
});
