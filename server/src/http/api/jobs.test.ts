import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobCollection } from '@dagproc/shared/schemas/api';
import { startApiTest, type ApiTest } from './testing.ts';

let api: ApiTest;
let first: number;
let second: number;

beforeAll(async () => {
  api = await startApiTest();
  const client = api.ts.client(await api.ts.processorToken());
  first = (await client.jobs.register.mutate({ jobType: 'DagProcessorJob', hostname: 'host-a', unixname: 'airflow', pid: 101 })).jobId;
  await client.jobs.complete.mutate({ jobId: first, state: 'success' });
  second = (await client.jobs.register.mutate({ jobType: 'DagProcessorJob', hostname: 'host-b', unixname: 'airflow', pid: 202 })).jobId;
  await api.sql("update job set start_date = now() - interval '1 hour', latest_heartbeat = now() - interval '1 hour' where id = $1", [first]);
  await api.sql("update job set latest_heartbeat = now() - interval '42 seconds' where id = $1", [second]);
});
afterAll(() => api.close());

describe('GET /api/v2/jobs', () => {
  it('lists jobs newest first, with the heartbeat age by the database clock', async () => {
    const res = await api.get('/jobs');
    expect(res.status).toBe(200);
    const body = jobCollection.parse(res.body);
    expect(body.jobs.map((j) => j.id)).toEqual([second, first]);
    expect(body.jobs[0]).toMatchObject({ jobType: 'DagProcessorJob', state: 'running', hostname: 'host-b', unixname: 'airflow', pid: 202, endDate: null });
    expect(body.jobs[0]!.heartbeatAgeSeconds).toBeGreaterThanOrEqual(42);
    expect(body.jobs[0]!.heartbeatAgeSeconds).toBeLessThan(60);
    expect(body.jobs[1]).toMatchObject({ state: 'success', hostname: 'host-a' });
    expect(body.jobs[1]!.endDate).not.toBeNull();
  });

  it.each([
    ['state=running', 1],
    ['state=success', 1],
    ['hostname=host-a', 1],
    ['jobType=DagProcessorJob', 2],
    ['jobType=SchedulerJob', 0],
    ['state=running&hostname=host-a', 0],
  ])('filters with %s', async (query, total) => {
    const res = await api.get(`/jobs?${query}`);
    expect(res.status).toBe(200);
    expect(res.body.totalEntries).toBe(total);
    expect(res.body.jobs).toHaveLength(total);
  });

  it.each([
    ['state=', 'state:'],
    [`hostname=${'h'.repeat(256)}`, 'hostname:'],
    ['offset=x', 'offset:'],
  ])('%s is a 400 naming the field', async (query, detail) => {
    const res = await api.get(`/jobs?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain(detail);
  });
});
