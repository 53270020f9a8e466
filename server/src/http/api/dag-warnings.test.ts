import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dagWarningCollection } from '@dagproc/shared/schemas/api';
import { persistFile, reconcileBundles, startApiTest, type ApiTest } from './testing.ts';

let api: ApiTest;

beforeAll(async () => {
  api = await startApiTest();
  await reconcileBundles(api.ts, ['dags-folder']);
  await persistFile(api.ts, 'a.ts', ['dag_a', 'dag_b'], {
    warnings: [
      { dagId: 'dag_a', warningType: 'non-existent pool', message: 'pool "big" does not exist' },
      { dagId: 'dag_b', warningType: 'non-existent pool', message: 'pool "small" does not exist' },
      { dagId: 'dag_b', warningType: 'deprecation', message: 'schedule_interval is deprecated' },
    ],
  });
});
afterAll(() => api.close());

describe('GET /api/v2/dagWarnings', () => {
  it('lists warnings by dag id and type', async () => {
    const res = await api.get('/dagWarnings');
    expect(res.status).toBe(200);
    const body = dagWarningCollection.parse(res.body);
    expect(body.dagWarnings.map((w) => [w.dagId, w.warningType, w.message])).toEqual([
      ['dag_a', 'non-existent pool', 'pool "big" does not exist'],
      ['dag_b', 'deprecation', 'schedule_interval is deprecated'],
      ['dag_b', 'non-existent pool', 'pool "small" does not exist'],
    ]);
    expect(body.totalEntries).toBe(3);
  });

  it.each([
    ['dagId=dag_b', 2],
    ['warningType=non-existent%20pool', 2],
    ['dagId=dag_b&warningType=deprecation', 1],
    ['dagId=unknown', 0],
    ['limit=1', 3],
  ])('filters with %s', async (query, total) => {
    const res = await api.get(`/dagWarnings?${query}`);
    expect(res.status).toBe(200);
    expect(res.body.totalEntries).toBe(total);
    if (!query.startsWith('limit')) expect(res.body.dagWarnings).toHaveLength(total);
    else expect(res.body.dagWarnings).toHaveLength(1);
  });

  it.each([
    ['dagId=no%20spaces', 'dagId:'],
    [`warningType=${'x'.repeat(51)}`, 'warningType:'],
    ['limit=abc', 'limit:'],
  ])('%s is a 400 naming the field', async (query, detail) => {
    const res = await api.get(`/dagWarnings?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain(detail);
  });
});
