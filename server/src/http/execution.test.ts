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
    expect(await get('/connections/nope', token)).toEqual({ status: 404, body: { detail: "connection 'nope' not found", reason: 'not_found' } });
    expect(await get('/variables/nope', token)).toEqual({ status: 404, body: { detail: "variable 'nope' not found", reason: 'not_found' } });
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

describe('bundle access policy', () => {
  const fileToken = async (bundle: string, file: string) => (await ts.auth.signer.mintFileToken({ bundle, file, lifetimeSeconds: 60 })).token;

  it('a bundle with no policy reads everything', async () => {
    expect((await get('/variables/target', await fileToken('open-bundle', 'a.ts'))).status).toBe(200);
  });

  it("refuses what the bundle's policy does not list with a 403 naming the id and the bundle, before any lookup", async () => {
    await rows(db(), `insert into bundle_access_policy (bundle_name, connection_ids, variable_keys) values ('locked', '["warehouse"]', '["team_*"]')`);
    const token = await fileToken('locked', 'dags/etl.ts');
    expect(await get('/variables/target', token)).toEqual({
      status: 403,
      body: { detail: "variable 'target' is not allowed by the access policy of bundle 'locked' (see: pnpm dagproc policy show --bundle locked)" },
    });
    // Not listed and not existing: the same 403, so a refusal tells nothing about existence.
    expect((await get('/connections/nope', token)).status).toBe(403);
    expect((await get('/connections/warehouse', token)).body).toMatchObject({ password: 's3cret' });
    expect(await get('/variables/team_x', token)).toMatchObject({ status: 404 });
  });

  it('writes every read, allowed or refused, to audit_log with the principal, the bundle and the file', async () => {
    const audit = await rows(db(), "select event, owner, bundle_name, relative_fileloc, extra from audit_log where bundle_name = 'locked' order by id");
    expect(audit).toEqual([
      { event: 'variable.get', owner: 'dag-file', bundle_name: 'locked', relative_fileloc: 'dags/etl.ts', extra: { key: 'target', outcome: 'denied', found: false } },
      { event: 'connection.get', owner: 'dag-file', bundle_name: 'locked', relative_fileloc: 'dags/etl.ts', extra: { connId: 'nope', outcome: 'denied', found: false } },
      { event: 'connection.get', owner: 'dag-file', bundle_name: 'locked', relative_fileloc: 'dags/etl.ts', extra: { connId: 'warehouse', outcome: 'read', found: true } },
      { event: 'variable.get', owner: 'dag-file', bundle_name: 'locked', relative_fileloc: 'dags/etl.ts', extra: { key: 'team_x', outcome: 'not_found', found: false } },
    ]);
  });

  it("does not apply to the processor's own token (it reads for the processor, e.g. a git bundle's credentials)", async () => {
    expect((await get('/variables/target', await ts.processorToken())).status).toBe(200);
  });
});
