import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hmacToken, nowSeconds, unsignedToken } from '../../auth/testing.ts';
import { TEST_JWT_SECRET } from '../../testing/server.ts';
import { apiOperations } from './index.ts';
import { operationSamples, persistFile, reconcileBundles, startApiTest, type ApiTest } from './testing.ts';

let api: ApiTest;

beforeAll(async () => {
  api = await startApiTest();
  await reconcileBundles(api.ts, ['dags-folder']);
  await persistFile(api.ts, 'etl.ts', ['etl_daily']);
  await api.sql("insert into variable (key, val) values ('target', 'dev')");
  await api.sql("insert into connection (conn_id, conn_type, password) values ('warehouse', 'postgres', 's3cret')");
});
afterAll(() => api.close());

const apiPayload = (overrides: Record<string, unknown> = {}) => {
  const now = nowSeconds();
  const payload: Record<string, unknown> = {
    iss: 'dagproc', sub: 'alice', aud: ['dagproc:api'], scope: 'api', iat: now, nbf: now, exp: now + 600, jti: 'j', ...overrides,
  };
  for (const [key, value] of Object.entries(payload)) if (value === undefined) delete payload[key];
  return payload;
};
const external = (overrides: Record<string, unknown> = {}, secret = TEST_JWT_SECRET) =>
  hmacToken({ alg: 'HS512', typ: 'JWT' }, apiPayload(overrides), secret);

/** Everything a refused request must leave alone. */
const snapshot = () =>
  Promise.all([
    api.sql('select dag_id, is_paused from dag order by dag_id'),
    api.sql('select key, val from variable order by key'),
    api.sql('select conn_id, conn_type, password from connection order by conn_id'),
    api.sql('select count(*)::int as n from dag_priority_parsing_request'),
    api.sql('select count(*)::int as n from callback_request'),
    api.sql('select count(*)::int as n from audit_log'),
  ]);

const badTokens: [string, () => Promise<string | null>, string][] = [
  ['no token', async () => null, 'missing bearer token'],
  ['an expired token', async () => external({ exp: nowSeconds() - 3600, iat: nowSeconds() - 7200, nbf: nowSeconds() - 7200 }), 'expired'],
  ['a token signed with another key', async () => external({}, 'another-secret-of-sufficient-length-000000'), 'signature'],
  ['a token of another issuer', async () => external({ iss: 'elsewhere' }), 'issuer'],
  ['an unsigned alg:none token', async () => unsignedToken(apiPayload()), 'none'],
  ['a processor token (dag-processing and execution audiences)', () => api.ts.processorToken(), 'audience'],
  ['a per-file token (execution audience)', async () => (await api.ts.auth.signer.mintFileToken({ bundle: 'dags-folder', file: 'etl.ts', lifetimeSeconds: 60 })).token, 'audience'],
  ['garbage', async () => 'not-a-jwt', 'malformed'],
];

describe('/api/v2 refuses requests without a valid API token', () => {
  it('the samples cover every operation', () => {
    expect(Object.keys(operationSamples).sort()).toEqual(apiOperations.map((o) => o.operationId).sort());
  });

  describe.each(badTokens)('%s', (_name, makeToken, reason) => {
    it.each(apiOperations.map((o) => [o.operationId]))('%s is a 401 saying why, and changes nothing', async (operationId) => {
      const sample = operationSamples[operationId]!;
      const before = await snapshot();
      const res = await api.call(sample.method, sample.path, { body: sample.body, token: await makeToken() });
      expect(res.status).toBe(401);
      expect(res.body.detail.toLowerCase()).toContain(reason.toLowerCase());
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await snapshot()).toEqual(before);
    });
  });

  it('a header that is not "Bearer <token>" is a 401', async () => {
    const res = await fetch(`${api.ts.url}/api/v2/dags`, { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
    expect(res.status).toBe(401);
  });
});

describe('/api/v2 accepts any API token', () => {
  it('a token minted outside dagproc for another subject works, and writes are recorded under its subject', async () => {
    const token = external({ sub: 'alice' });
    expect((await api.get('/dags', token)).status).toBe(200);
    expect((await api.call('PUT', '/variables/by_alice', { body: { value: 'x' }, token })).status).toBe(201);
    expect(await api.sql("select owner from audit_log where event = 'variable.put'")).toEqual([{ owner: 'alice' }]);
  });

  it('the OpenAPI document and the dashboard page are open', async () => {
    expect((await api.get('/openapi.json', null)).status).toBe(200);
    expect((await fetch(`${api.ts.url}/`)).status).toBe(200);
  });

  it('no answer ever holds the signing key', async () => {
    const res = await api.get('/dags', external({}, 'another-secret-of-sufficient-length-000000'));
    expect(JSON.stringify(res.body)).not.toContain(TEST_JWT_SECRET);
  });
});
