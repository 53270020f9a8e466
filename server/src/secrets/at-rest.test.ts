import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@dagproc/shared/log';
import { startTestServer, type TestServer } from '../testing/server.ts';
import { rows } from '../testing/sql.ts';

/** What a server does with secrets at rest, with a key and without one. */
let keyed: TestServer;
let keyless: TestServer;
const logged: string[] = [];

beforeAll(async () => {
  keyed = await startTestServer({ logger: createLogger('server', { write: (line) => logged.push(line) }) });
  keyless = await startTestServer({ config: { secrets: { current: undefined, previous: [] } } });
});
afterAll(async () => {
  await keyed?.close();
  await keyless?.close();
});

async function api(ts: TestServer, method: string, path: string, body?: unknown) {
  const { token } = await ts.auth.signer.mintApiToken({ subject: 'admin', lifetimeSeconds: 60 });
  const res = await fetch(`${ts.url}/api/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('without DAGPROC_SECRET_KEY', () => {
  it('stores values in plaintext and answers them', async () => {
    await api(keyless, 'PUT', '/variables/target', { value: 'prod' });
    await api(keyless, 'PUT', '/connections/web', { connType: 'http', password: 'pw', extra: { token: 't' } });
    expect(await rows(keyless.testDb.database.db, 'select val from variable')).toEqual([{ val: 'prod' }]);
    expect(await rows(keyless.testDb.database.db, 'select password, extra from connection')).toEqual([{ password: 'pw', extra: { token: 't' } }]);
    expect((await api(keyless, 'GET', '/connections/web?reveal=true')).body).toMatchObject({ password: 'pw', extra: { token: 't' } });
  });

  it('refuses, as bad input, a value that would read back as an encrypted one', async () => {
    const res = await api(keyless, 'PUT', '/variables/odd', { value: 'dgp:v1:0123abcd:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    expect(res).toEqual({ status: 400, body: { detail: expect.stringContaining('cannot be stored while DAGPROC_SECRET_KEY is not set') } });
  });
});

describe('with DAGPROC_SECRET_KEY', () => {
  it('a stored value that does not authenticate is a 500 saying so, logged, never garbage', async () => {
    await api(keyed, 'PUT', '/variables/target', { value: 'prod' });
    const [{ val }] = (await rows(keyed.testDb.database.db, "select val from variable where key = 'target'")) as [{ val: string }];
    // Another character in the tag's part of the envelope.
    const flipped = val.slice(0, -2) + (val.at(-2) === 'A' ? 'B' : 'A') + val.slice(-1);
    expect(flipped).not.toBe(val);
    await rows(keyed.testDb.database.db, "update variable set val = $1 where key = 'target'", [flipped]);
    const res = await api(keyed, 'GET', '/variables/target');
    expect(res).toEqual({ status: 500, body: { detail: expect.stringMatching(/^cannot decrypt variable 'target': the stored value does not authenticate under key [0-9a-f]{8} \(tampered or corrupted\)$/) } });
    const { token } = await keyed.auth.signer.mintFileToken({ bundle: 'b', file: 'f.ts', lifetimeSeconds: 60 });
    const execution = await fetch(`${keyed.url}/execution/variables/target`, { headers: { authorization: `Bearer ${token}` } });
    expect(execution.status).toBe(500);
    expect(logged.some((line) => line.includes('cannot decrypt a stored secret') && line.includes('"reason":"tampered"'))).toBe(true);
    expect(logged.join('\n')).not.toContain('prod');
  });
});
