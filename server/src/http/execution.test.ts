import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/server.ts';
import { rows } from '../testing/sql.ts';

let ts: TestServer;
const db = () => ts.testDb.database.db;
const get = (path: string, token?: string) =>
  fetch(`${ts.url}/execution${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} }).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as any,
  }));

beforeAll(async () => {
  ts = await startTestServer();
  await rows(db(), "insert into variable (key, val) values ('target', 'prod')");
  await rows(db(), "insert into connection (conn_id, conn_type, host, port, login, password, extra) values ('warehouse', 'postgres', 'db.internal', 5432, 'etl', 's3cret', '{\"sslmode\": \"require\"}')");
});
afterAll(() => ts.close());

describe('execution API', () => {
  it('a per-file token reads a Variable, and the read is recorded against the file', async () => {
    const { token } = await ts.auth.signer.mintFileToken({ bundle: 'dags-folder', file: 'etl/daily.ts', lifetimeSeconds: 60 });
    expect(await get('/variables/target', token)).toEqual({ status: 200, body: { key: 'target', value: 'prod' } });
    const [audit] = await rows(db(), "select event, owner, bundle_name, relative_fileloc, extra from audit_log where event = 'variable.get'");
    expect(audit).toMatchObject({ owner: 'dag-file', bundle_name: 'dags-folder', relative_fileloc: 'etl/daily.ts', extra: { key: 'target', found: true } });
  });

  it('a Connection reads whole; an unknown one is a 404 naming it', async () => {
    const token = await ts.processorToken();
    const ok = await get('/connections/warehouse', token);
    expect(ok.body).toEqual({
      connId: 'warehouse', connType: 'postgres', host: 'db.internal', port: 5432, login: 'etl', password: 's3cret', schema: null, extra: { sslmode: 'require' },
    });
    expect(await get('/connections/nope', token)).toEqual({ status: 404, body: { detail: "connection 'nope' not found" } });
    expect(await get('/variables/nope', token)).toEqual({ status: 404, body: { detail: "variable 'nope' not found" } });
  });

  it('a malformed key is a 400, not a lookup', async () => {
    const token = await ts.processorToken();
    const res = await get('/variables/bad%20key!', token);
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain('variable key');
  });

  it('no token, or a token for another audience, is a 401 saying why', async () => {
    expect(await get('/variables/target')).toMatchObject({ status: 401, body: { detail: expect.stringContaining('missing bearer token') } });
    const { token: apiToken } = await ts.auth.signer.mintApiToken({ subject: 'admin', lifetimeSeconds: 60 });
    expect(await get('/variables/target', apiToken)).toMatchObject({ status: 401, body: { detail: expect.stringContaining('audience') } });
  });
});

describe('parsing.fileToken', () => {
  it('exchanges the processor token for a short-lived execution-only token naming one file', async () => {
    const api = ts.client(await ts.processorToken());
    const { token, expiresAt } = await api.parsing.fileToken.mutate({ bundleName: 'dags-folder', relativeFileloc: 'a/b.ts' });
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({ sub: 'dag-file', bundle: 'dags-folder', file: 'a/b.ts', aud: ['dagproc:execution'] });
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(15 * 60 * 1000);
    expect((await get('/variables/target', token)).status).toBe(200);
  });
});
