import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPrivateKeyFile } from '../auth/keys.ts';
import { asymmetricToken, generateTestKey, processorPayload, rfc7638Thumbprint, tempDir, writePkcs8Pem } from '../auth/testing.ts';
import { startTestServer, type TestServer } from '../testing/server.ts';

describe('/.well-known/jwks.json', () => {
  let ec: TestServer;
  let hs: TestServer;
  const key = generateTestKey('ES256');

  beforeAll(async () => {
    const path = writePkcs8Pem(tempDir(), 'signing.pem', key.privateKey);
    ec = await startTestServer({ config: { auth: { privateKey: readPrivateKeyFile(path), issuer: 'dagproc' } } });
    hs = await startTestServer();
  });
  afterAll(async () => {
    await ec.close();
    await hs.close();
  });

  it('publishes the public key, with its RFC 7638 kid, when the signing key is asymmetric', async () => {
    const res = await fetch(`${ec.url}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', kid: rfc7638Thumbprint(key.publicKey), alg: 'ES256' });
    expect(keys[0]).not.toHaveProperty('d');
  });

  it('accepts a token signed elsewhere with that key and its kid', async () => {
    const token = asymmetricToken('ES256', { typ: 'JWT', kid: rfc7638Thumbprint(key.publicKey) }, processorPayload(), key.privateKey);
    const res = await ec.mutate('bundles.reconcile', { group: 'g', bundles: [] }, token);
    expect(res.status).toBe(200);
  });

  it('is a 404 saying why when the key is a shared secret', async () => {
    const res = await fetch(`${hs.url}/.well-known/jwks.json`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { detail: string }).detail).toContain('symmetric');
  });
});
