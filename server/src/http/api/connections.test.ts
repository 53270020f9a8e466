import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionCollection, connectionResponse } from '@dagproc/shared/schemas/api';
import { openExtra, secretAad } from '../../secrets/cipher.ts';
import { startApiTest, type ApiTest } from './testing.ts';

let api: ApiTest;

beforeAll(async () => {
  api = await startApiTest();
});
afterAll(() => api.close());

const warehouse = {
  connType: 'postgres',
  description: 'the warehouse',
  host: 'db.internal',
  port: 5432,
  login: 'etl',
  password: 's3cret',
  schema: 'analytics',
  extra: { sslmode: 'require', api_token: 'tok-123', nested: { client_secret: 'cs-1', region: 'eu' } },
};
const storedRaw = () => api.sql("select password, extra from connection where conn_id = 'warehouse'");
/** What the database holds, opened with the server's key: the tests below check both. */
const stored = async () =>
  (await storedRaw()).map((r) => ({
    password: r.password === null ? null : api.ts.server.deps.secrets.open(r.password, secretAad.password('warehouse'), 'password'),
    extra: openExtra(api.ts.server.deps.secrets, 'warehouse', r.extra),
  }));

describe('Connections', () => {
  it('PUT creates a Connection and answers it with its secrets masked', async () => {
    const res = await api.call('PUT', '/connections/warehouse', { body: warehouse });
    expect(res.status).toBe(201);
    expect(connectionResponse.parse(res.body)).toEqual({
      connId: 'warehouse',
      ...warehouse,
      password: '***',
      extra: { sslmode: 'require', api_token: '***', nested: { client_secret: '***', region: 'eu' } },
    });
    expect(await stored()).toEqual([{ password: 's3cret', extra: warehouse.extra }]);
  });

  it('stores the password and the extra encrypted: no secret, and no extra key, in the columns', async () => {
    const [raw] = await storedRaw();
    expect(raw!.password).toMatch(/^dgp:v1:[0-9a-f]{8}:/);
    expect(typeof raw!.extra).toBe('string');
    const text = JSON.stringify(await api.sql('select * from connection'));
    for (const plain of ['s3cret', 'tok-123', 'cs-1', 'sslmode', 'client_secret']) expect(text).not.toContain(plain);
  });

  it('GET with reveal=true answers the secrets as stored, and the reveal is audited', async () => {
    const res = await api.get('/connections/warehouse?reveal=true');
    expect(res).toMatchObject({ status: 200, body: { password: 's3cret', extra: warehouse.extra } });
    const [audit] = await api.sql("select owner, extra from audit_log where event = 'connection.reveal'");
    expect(audit).toEqual({ owner: 'admin', extra: { connId: 'warehouse' } });
    expect((await api.get('/connections/warehouse?reveal=yes')).body.detail).toMatch(/^reveal: /);
  });

  it('GET and the list never show a secret', async () => {
    const one = await api.get('/connections/warehouse');
    expect(one.status).toBe(200);
    expect(one.body.password).toBe('***');
    const list = await api.get('/connections');
    expect(connectionCollection.parse(list.body).totalEntries).toBe(1);
    for (const answer of [one.body, list.body]) {
      const text = JSON.stringify(answer);
      expect(text).not.toContain('s3cret');
      expect(text).not.toContain('tok-123');
      expect(text).not.toContain('cs-1');
    }
  });

  it('sending the masked answer back keeps the stored secrets; a new value replaces them', async () => {
    const read = (await api.get('/connections/warehouse')).body;
    const { connId: _id, ...body } = read;
    const replaced = await api.call('PUT', '/connections/warehouse', { body: { ...body, host: 'db2.internal' } });
    expect(replaced.status).toBe(200);
    expect(await stored()).toEqual([{ password: 's3cret', extra: warehouse.extra }]);
    await api.call('PUT', '/connections/warehouse', { body: { ...body, password: 'rotated', extra: { ...body.extra, api_token: 'tok-456' } } });
    expect(await stored()).toEqual([{ password: 'rotated', extra: { ...warehouse.extra, api_token: 'tok-456' } }]);
  });

  it('PATCH changes only the fields sent, keeps the secrets, and a null clears a field', async () => {
    const res = await api.call('PATCH', '/connections/warehouse', { body: { host: 'db3.internal', schema: null } });
    expect(res).toMatchObject({ status: 200, body: { host: 'db3.internal', schema: null, login: 'etl', port: 5432, password: '***' } });
    expect(await stored()).toEqual([{ password: 'rotated', extra: { ...warehouse.extra, api_token: 'tok-456' } }]);
    expect(await api.call('PATCH', '/connections/nope', { body: { host: 'x' } })).toMatchObject({ status: 404, body: { detail: "connection 'nope' not found" } });
    expect((await api.call('PATCH', '/connections/warehouse', { body: {} })).body.detail).toBe('body: at least one field to change');
  });

  it('POST creates a Connection, and answers 409 when the id is taken', async () => {
    const res = await api.call('POST', '/connections', { body: { connId: 'web', connType: 'http', password: 'pw' } });
    expect(res).toMatchObject({ status: 201, body: { connId: 'web', connType: 'http', password: '***' } });
    expect(await api.call('POST', '/connections', { body: { connId: 'web', connType: 'http' } })).toMatchObject({
      status: 409,
      body: { detail: "connection 'web' already exists" },
    });
    expect((await api.get('/connections/web?reveal=true')).body.password).toBe('pw');
    expect((await api.call('DELETE', '/connections/web')).status).toBe(204);
  });

  it('PUT replaces the whole Connection: a field left out becomes null', async () => {
    const res = await api.call('PUT', '/connections/warehouse', { body: { connType: 'http' } });
    expect(res.body).toEqual({ connId: 'warehouse', connType: 'http', description: null, host: null, port: null, login: null, password: null, schema: null, extra: null });
  });

  it('a Connection written here is what a DAG file reads, unmasked, through the Execution API', async () => {
    await api.call('PUT', '/connections/warehouse', { body: warehouse });
    const { token } = await api.ts.auth.signer.mintFileToken({ bundle: 'dags-folder', file: 'a.ts', lifetimeSeconds: 60 });
    const res = await fetch(`${api.ts.url}/execution/connections/warehouse`, { headers: { authorization: `Bearer ${token}` } });
    expect(await res.json()).toMatchObject({ password: 's3cret', extra: warehouse.extra });
  });

  it('writes are audited without secrets; DELETE answers 204, then 404', async () => {
    expect((await api.call('DELETE', '/connections/warehouse')).status).toBe(204);
    expect(await api.get('/connections/warehouse')).toMatchObject({ status: 404, body: { detail: "connection 'warehouse' not found" } });
    expect((await api.call('DELETE', '/connections/warehouse')).status).toBe(404);
    const audit = await api.sql("select event, owner, extra from audit_log where event in ('connection.put', 'connection.delete') order by id");
    // PUT x3, PATCH, POST (then its DELETE), PUT, PUT: eight writes before this test's DELETE.
    expect(audit.map((a) => a.event)).toEqual([
      ...Array(5).fill('connection.put'),
      'connection.delete',
      ...Array(2).fill('connection.put'),
      'connection.delete',
    ]);
    expect(audit.every((a) => a.owner === 'admin')).toBe(true);
    const text = JSON.stringify(audit);
    for (const secret of ['s3cret', 'rotated', 'tok-']) expect(text).not.toContain(secret);
  });
});

describe('Connections: bad input', () => {
  it.each([
    [{}, 'connType: required'],
    [{ connType: '' }, 'connType:'],
    [{ connType: 'http', port: 70000 }, 'port:'],
    [{ connType: 'http', port: '80' }, 'port: expected number, received string'],
    [{ connType: 'http', extra: 'sslmode=require' }, 'extra: expected record, received string'],
    [{ connType: 'http', password: null, conn_type: 'x' }, 'conn_type: unknown field'],
  ])('%j is a 400: %s', async (body, detail) => {
    const res = await api.call('PUT', '/connections/web', { body });
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain(detail);
    expect(await api.sql("select * from connection where conn_id = 'web'")).toEqual([]);
  });

  it('POST with a malformed id is a 400 naming connId, and nothing is stored', async () => {
    const res = await api.call('POST', '/connections', { body: { connId: 'a b', connType: 'http' } });
    expect(res).toMatchObject({ status: 400, body: { detail: expect.stringMatching(/^connId: /) } });
  });

  it('a malformed connection id is a 400', async () => {
    expect(await api.get('/connections/a%2Fb')).toMatchObject({ status: 400, body: { detail: expect.stringContaining('connId:') } });
  });
});
