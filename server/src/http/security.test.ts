import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { persistInputOf, serializedDagOf } from '@dagproc/shared/testing';
import { hmacToken, nowSeconds, processorPayload, unsignedToken } from '../auth/testing.ts';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../testing/server.ts';
import { rows } from '../testing/sql.ts';

let ts: TestServer;
let token: string;

beforeAll(async () => {
  ts = await startTestServer();
  token = await ts.processorToken();
  await ts.client(token).bundles.reconcile.mutate({ group: 'g', bundles: [{ name: 'allowed', kind: 'local' }, { name: 'secret', kind: 'local' }] });
});
afterAll(() => ts.close());

const external = (overrides: Record<string, unknown> = {}, secret = TEST_JWT_SECRET, header: Record<string, unknown> = { alg: 'HS512', typ: 'JWT' }) =>
  hmacToken(header, processorPayload(overrides), secret);
const state = (t?: string) => ts.mutate('bundles.reconcile', { group: 'g', bundles: [{ name: 'allowed', kind: 'local' }, { name: 'secret', kind: 'local' }] }, t);

describe('dag-processing auth: tokens', () => {
  it('a token minted outside the project with node:crypto HMAC-SHA512 is accepted', async () => {
    expect((await state(external())).status).toBe(200);
  });

  it.each([
    ['no token', undefined, 'missing bearer token'],
    ['an expired token', external({ exp: nowSeconds() - 3600, iat: nowSeconds() - 7200, nbf: nowSeconds() - 7200 }), 'expired'],
    ['a token not yet valid', external({ nbf: nowSeconds() + 3600 }), 'not yet valid'],
    ['a token signed with another key', external({}, 'another-secret-of-sufficient-length-000000'), 'signature'],
    ['a token of the wrong audience', external({ aud: ['dagproc:execution'] }), 'audience'],
    ['a token of the wrong issuer', external({ iss: 'someone-else' }), 'issuer'],
    ['an unsigned alg:none token', unsignedToken(processorPayload()), 'none'],
    ['an HS256 token', hmacToken({ alg: 'HS256', typ: 'JWT' }, processorPayload(), TEST_JWT_SECRET, 'sha256'), 'HS256'],
    ['a token without exp', external({ exp: undefined }), 'exp'],
    ['garbage', 'not-a-jwt', 'malformed'],
  ])('%s gets a 401 saying why, and changes nothing', async (_name, bad, reason) => {
    const before = await rows(ts.testDb.database.db, 'select count(*)::int as n from dag_bundle');
    const res = await state(bad);
    expect(res.status).toBe(401);
    expect(res.body.error.message.toLowerCase()).toContain(reason.toLowerCase());
    expect(await rows(ts.testDb.database.db, 'select count(*)::int as n from dag_bundle')).toEqual(before);
  });

  it('a per-file token (execution audience only) cannot call the processor API', async () => {
    const { token: fileToken } = await ts.auth.signer.mintFileToken({ bundle: 'allowed', file: 'a.ts', lifetimeSeconds: 60 });
    const res = await state(fileToken);
    expect(res.status).toBe(401);
    expect(res.body.error.message).toContain('audience');
  });

  it('a token of the right audience but another subject is forbidden', async () => {
    const res = await state(external({ sub: 'somebody', scope: 'api' }));
    expect(res.status).toBe(403);
  });

  it('the signing key never appears in an answer', async () => {
    const res = await state(external({}, 'another-secret-of-sufficient-length-000000'));
    expect(JSON.stringify(res.body)).not.toContain(TEST_JWT_SECRET);
  });
});

describe("dag-processing auth: a token's bundles claim", () => {
  it.each([
    ['parsing.persist', () => persistInputOf('x.ts', [serializedDagOf('secret_x')], { bundleName: 'secret' })],
    ['bundles.reconcile', () => ({ group: 'g', bundles: [{ name: 'secret', kind: 'local' }] })],
    ['bundles.sync', () => ({ name: 'secret', version: null, lastRefreshed: new Date().toISOString() })],
    ['dags.sweepStale', () => ({ bundleName: 'secret', files: [], staleDagThreshold: 50 })],
    ['importErrors.purgeMissing', () => ({ bundleName: 'secret', files: [] })],
    ['warnings.purgeInactive', () => ({ bundleNames: ['allowed', 'secret'] })],
    ['claims.parseRequests', () => ({ jobId: 1, bundleNames: ['secret'], limit: 1, leaseSeconds: 10 })],
    ['claims.callbacks', () => ({ jobId: 1, bundleNames: ['secret'], limit: 1, leaseSeconds: 10 })],
    ['parsing.fileToken', () => ({ bundleName: 'secret', relativeFileloc: 'x.ts' })],
  ])('%s on a bundle outside the claim is a 403 naming the bundle', async (path, input) => {
    const limited = await ts.processorToken({ bundles: ['allowed'] });
    const res = await ts.mutate(path, input(), limited);
    expect(res.status).toBe(403);
    expect(res.body.error.message).toContain("bundle 'secret'");
  });

  it('reads of a bundle outside the claim are refused too', async () => {
    const limited = await ts.processorToken({ bundles: ['allowed'] });
    const input = encodeURIComponent(JSON.stringify({ names: ['secret'] }));
    const res = await fetch(`${ts.url}/dag-processing/trpc/bundles.state?input=${input}`, { headers: { authorization: `Bearer ${limited}` } });
    expect(res.status).toBe(403);
  });

  it('the allowed bundle works with the limited token', async () => {
    const limited = await ts.processorToken({ bundles: ['allowed'] });
    const res = await ts.mutate('parsing.persist', persistInputOf('ok.ts', [serializedDagOf('allowed_ok')], { bundleName: 'allowed' }), limited);
    expect(res.status).toBe(200);
  });
});

describe('dag-processing: malformed requests', () => {
  it('malformed JSON is a 400 saying so', async () => {
    const res = await ts.mutate('bundles.reconcile', '{"group": ', token);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('not valid JSON');
  });

  it('an unknown procedure is a 404', async () => {
    expect((await ts.mutate('jobs.explode', {}, token)).status).toBe(404);
  });

  it.each(['jobs.register', 'jobs.heartbeat', 'jobs.complete', 'parsing.persist', 'parsing.fileToken', 'bundles.reconcile', 'bundles.sync', 'dags.sweepStale', 'importErrors.purgeMissing', 'warnings.purgeInactive', 'claims.parseRequests', 'claims.completeParseRequests', 'claims.callbacks', 'claims.ackCallback'])(
    '%s answers every shape of garbage with a 4xx, never a 500',
    async (path) => {
      for (const body of ['null', '[]', '"x"', '{}', '{"jobId": "1"}', '{"bundleName": {"$ne": 1}}', '12', 'true']) {
        const res = await ts.mutate(path, body, token);
        expect(res.status, `${path} with ${body}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${path} with ${body}`).toBeLessThan(500);
      }
    },
  );

  it('a batch of more calls than the cap is a 400', async () => {
    const paths = Array.from({ length: 51 }, () => 'bundles.state').join(',');
    const input = encodeURIComponent(JSON.stringify(Object.fromEntries(Array.from({ length: 51 }, (_, i) => [i, { names: ['allowed'] }]))));
    const res = await fetch(`${ts.url}/dag-processing/trpc/${paths}?batch=1&input=${input}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(400);
  });

  it('a batch within the cap works', async () => {
    const input = encodeURIComponent(JSON.stringify({ 0: { names: ['allowed'] }, 1: { names: ['secret'] } }));
    const res = await fetch(`${ts.url}/dag-processing/trpc/bundles.state,bundles.state?batch=1&input=${input}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
  });
});

describe('body size limit', () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ config: { maxBodyBytes: 2048 } });
  });
  afterAll(() => small.close());

  it('a body over DAGPROC_MAX_BODY_BYTES is a 413 naming the limit, and nothing is stored', async () => {
    const t = await small.processorToken();
    await small.client(t).bundles.reconcile.mutate({ group: 'g', bundles: [{ name: 'b', kind: 'local' }] });
    const big = persistInputOf('big.ts', [serializedDagOf('big')], { bundleName: 'b', sourceCode: 'x'.repeat(4096) });
    const res = await small.mutate('parsing.persist', big, t);
    expect(res.status).toBe(413);
    expect(JSON.stringify(res.body)).toContain('DAGPROC_MAX_BODY_BYTES');
    expect(await rows(small.testDb.database.db, 'select * from dag')).toEqual([]);
  });

  it('a chunked body without a content-length is limited too', async () => {
    const t = await small.processorToken();
    const chunk = new TextEncoder().encode('x'.repeat(1024));
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await fetch(`${small.url}/dag-processing/trpc/bundles.reconcile`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t}` },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
  });
});
