import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importErrorCollection } from '@dagproc/shared/schemas/api';
import { persistFile, reconcileBundles, startApiTest, type ApiTest } from './testing.ts';

let api: ApiTest;

beforeAll(async () => {
  api = await startApiTest();
  await reconcileBundles(api.ts, ['dags-folder', 'other']);
  await persistFile(api.ts, 'broken.ts', [], { importError: { stacktrace: 'SyntaxError: Unexpected token\n    at broken.ts:3:1' } });
  await persistFile(api.ts, 'nested/bad.ts', [], { bundleName: 'other', importError: { stacktrace: 'Error: <script>alert(1)</script>' } });
});
afterAll(() => api.close());

describe('GET /api/v2/importErrors', () => {
  it('lists import errors newest first, with their stack traces', async () => {
    const res = await api.get('/importErrors');
    expect(res.status).toBe(200);
    const body = importErrorCollection.parse(res.body);
    expect(body.totalEntries).toBe(2);
    expect(body.importErrors.map((e) => [e.bundleName, e.filename])).toEqual([
      ['other', 'nested/bad.ts'],
      ['dags-folder', 'broken.ts'],
    ]);
    expect(body.importErrors[1]!.stackTrace).toBe('SyntaxError: Unexpected token\n    at broken.ts:3:1');
    // User content is answered as data; escaping is the reader's job, and the dashboard's.
    expect(body.importErrors[0]!.stackTrace).toBe('Error: <script>alert(1)</script>');
  });

  it('filters by bundle', async () => {
    const res = await api.get('/importErrors?bundleName=dags-folder');
    expect(res.body.importErrors.map((e: any) => e.filename)).toEqual(['broken.ts']);
    expect(res.body.totalEntries).toBe(1);
    expect((await api.get('/importErrors?bundleName=none')).body).toEqual({ importErrors: [], totalEntries: 0 });
  });

  it('an import error goes once the file parses cleanly', async () => {
    await persistFile(api.ts, 'broken.ts', ['fixed_dag']);
    expect((await api.get('/importErrors?bundleName=dags-folder')).body.totalEntries).toBe(0);
  });

  it.each([
    ['bundleName=a%2Fb', 'bundleName:'],
    ['limit=-5', 'limit:'],
    ['offset=1.5', 'offset:'],
  ])('%s is a 400 naming the field', async (query, detail) => {
    const res = await api.get(`/importErrors?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain(detail);
  });
});
