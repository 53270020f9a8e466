import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { variableCollection, variableResponse } from '@dagproc/shared/schemas/api';
import { startApiTest, type ApiTest } from './testing.ts';

let api: ApiTest;

beforeAll(async () => {
  api = await startApiTest();
});
afterAll(() => api.close());

const audit = () => api.sql("select event, owner, extra from audit_log where event like 'variable.%' order by id");

describe('Variables', () => {
  it('PUT creates (201), then replaces (200); each write is audited without its value', async () => {
    const created = await api.call('PUT', '/variables/target', { body: { value: 'dev', description: 'where to load' } });
    expect(created.status).toBe(201);
    expect(variableResponse.parse(created.body)).toEqual({ key: 'target', value: 'dev', description: 'where to load' });
    const replaced = await api.call('PUT', '/variables/target', { body: { value: 'prod' } });
    expect(replaced).toMatchObject({ status: 200, body: { key: 'target', value: 'prod', description: null } });
    expect(await api.get('/variables/target')).toMatchObject({ status: 200, body: { key: 'target', value: 'prod', description: null } });
    expect(await audit()).toEqual([
      { event: 'variable.put', owner: 'admin', extra: { key: 'target', created: true } },
      { event: 'variable.put', owner: 'admin', extra: { key: 'target', created: false } },
    ]);
    expect(JSON.stringify(await api.sql('select * from audit_log'))).not.toContain('prod');
  });

  it('a Variable written here is what a DAG file reads through the Execution API', async () => {
    await api.call('PUT', '/variables/shared.key', { body: { value: 'from-api' } });
    const { token } = await api.ts.auth.signer.mintFileToken({ bundle: 'dags-folder', file: 'a.ts', lifetimeSeconds: 60 });
    const res = await fetch(`${api.ts.url}/execution/variables/shared.key`, { headers: { authorization: `Bearer ${token}` } });
    expect(await res.json()).toEqual({ key: 'shared.key', value: 'from-api' });
  });

  it('lists Variables by key with their values', async () => {
    await api.call('PUT', '/variables/a_first', { body: { value: '' } });
    const res = await api.get('/variables');
    expect(res.status).toBe(200);
    expect(variableCollection.parse(res.body).variables.map((v) => [v.key, v.value])).toEqual([
      ['a_first', ''],
      ['shared.key', 'from-api'],
      ['target', 'prod'],
    ]);
    expect((await api.get('/variables?limit=1&offset=2')).body).toEqual({
      variables: [{ key: 'target', value: 'prod', description: null }],
      totalEntries: 3,
    });
  });

  it('DELETE answers 204, then the Variable is gone (404) and a second DELETE is a 404', async () => {
    const res = await api.call('DELETE', '/variables/a_first');
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
    expect(await api.get('/variables/a_first')).toMatchObject({ status: 404, body: { detail: "variable 'a_first' not found" } });
    expect(await api.call('DELETE', '/variables/a_first')).toMatchObject({ status: 404 });
    expect((await audit()).filter((a) => a.event === 'variable.delete')).toEqual([
      { event: 'variable.delete', owner: 'admin', extra: { key: 'a_first' } },
    ]);
  });
});

describe('Variables at rest', () => {
  it('stores the value encrypted and answers it decrypted', async () => {
    await api.call('PUT', '/variables/api_key', { body: { value: 'sk-live-123' } });
    const [row] = await api.sql("select val from variable where key = 'api_key'");
    expect(row!.val).toMatch(/^dgp:v1:[0-9a-f]{8}:[A-Za-z0-9_-]+$/);
    expect(JSON.stringify(await api.sql('select * from variable'))).not.toContain('sk-live-123');
    expect((await api.get('/variables/api_key')).body.value).toBe('sk-live-123');
    expect((await api.get('/variables')).body.variables.find((v: any) => v.key === 'api_key').value).toBe('sk-live-123');
    await api.call('DELETE', '/variables/api_key');
  });

  it('a value the server holds no key for is a 503 naming the key, never garbage', async () => {
    await api.sql("insert into variable (key, val) values ('orphan', 'dgp:v1:00000000:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')");
    const res = await api.get('/variables/orphan');
    expect(res.status).toBe(503);
    expect(res.body.detail).toMatch(/^cannot decrypt variable 'orphan': it was encrypted with key 00000000, which this server does not hold/);
    await api.sql("delete from variable where key = 'orphan'");
  });
});

describe('Variables: bad input', () => {
  it.each([
    ['PUT', '/variables/target', { value: 3 }, 'value: expected string, received number'],
    ['PUT', '/variables/target', {}, 'value: required'],
    ['PUT', '/variables/target', { value: 'x', val: 'y' }, 'val: unknown field'],
    ['PUT', '/variables/target', { value: 'x', description: 5 }, 'description:'],
    ['PUT', '/variables/target', '{"value": "x"', 'body: not valid JSON'],
    ['PUT', '/variables/target', '"x"', 'body: expected object, received string'],
    ['PUT', '/variables/bad%20key', { value: 'x' }, 'key: a variable key is letters'],
    ['GET', '/variables/bad%21key', undefined, 'key: a variable key is letters'],
    ['DELETE', `/variables/${'k'.repeat(251)}`, undefined, 'key:'],
    ['GET', '/variables?limit=0', undefined, 'limit:'],
  ])('%s %s with %j is a 400: %s', async (method, path, body, detail) => {
    const before = await api.sql('select key, val from variable order by key');
    const res = await api.call(method, path, { body });
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain(detail);
    expect(await api.sql('select key, val from variable order by key')).toEqual(before);
  });
});
