import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIENCE } from '@dagproc/shared/claims';
import { createAuth } from './index.ts';
import { createVerifier } from './verify.ts';
import {
  TEST_SECRET,
  asymmetricToken,
  generateTestKey,
  hmacToken,
  processorPayload,
  rfc7638Thumbprint,
} from './testing.ts';

/** An external issuer: keys of all three algorithms, published as a JWKS over real HTTP. */
const issuerKeys = {
  RS256: generateTestKey('RS256'),
  ES256: generateTestKey('ES256'),
  EdDSA: generateTestKey('EdDSA'),
};
const kidOf = (alg: keyof typeof issuerKeys) => rfc7638Thumbprint(issuerKeys[alg].publicKey);

let server: Server;
let jwksUrl: URL;
let requests = 0;

beforeAll(async () => {
  const keys = Object.entries(issuerKeys).map(([alg, { publicKey }]) => ({
    ...publicKey.export({ format: 'jwk' }),
    kid: rfc7638Thumbprint(publicKey),
    alg,
    use: 'sig',
  }));
  server = createServer((req, res) => {
    requests += 1;
    if (req.url !== '/jwks.json') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`);
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('a server that verifies against an external issuer JWKS', () => {
  it.each(['RS256', 'ES256', 'EdDSA'] as const)('accepts a %s token the issuer signed', async (alg) => {
    const verifier = createVerifier({ issuer: 'dagproc', keys: [], jwksUrl });
    const token = asymmetricToken(alg, { kid: kidOf(alg) }, processorPayload(), issuerKeys[alg].privateKey);
    const result = await verifier.verify(token, AUDIENCE.dagProcessing);
    expect(result.ok && result.claims.sub).toBe('dag-processor');
  });

  it('fetches the JWKS once and reuses it', async () => {
    const verifier = createVerifier({ issuer: 'dagproc', keys: [], jwksUrl });
    const before = requests;
    for (let i = 0; i < 3; i += 1) {
      const token = asymmetricToken('ES256', { kid: kidOf('ES256') }, processorPayload(), issuerKeys.ES256.privateKey);
      expect((await verifier.verify(token, AUDIENCE.execution)).ok).toBe(true);
    }
    expect(requests - before).toBe(1);
  });

  it('refuses a token whose kid the JWKS does not hold, and one the issuer did not sign', async () => {
    const verifier = createVerifier({ issuer: 'dagproc', keys: [], jwksUrl });
    const stranger = generateTestKey('EdDSA').privateKey;
    expect(await verifier.verify(asymmetricToken('EdDSA', { kid: 'nope' }, processorPayload(), stranger), AUDIENCE.execution)).toEqual({
      ok: false,
      reason: "token key id 'nope' is not in the JWKS",
    });
    expect(await verifier.verify(asymmetricToken('EdDSA', { kid: kidOf('EdDSA') }, processorPayload(), stranger), AUDIENCE.execution)).toEqual({
      ok: false,
      reason: 'token signature does not verify',
    });
  });

  it('never takes a symmetric or unsigned token in JWKS mode', async () => {
    const verifier = createVerifier({ issuer: 'dagproc', keys: [], jwksUrl });
    expect(verifier.algorithms).toEqual(['RS256', 'ES256', 'EdDSA']);
    expect(await verifier.verify(hmacToken({ alg: 'HS512' }, processorPayload(), TEST_SECRET), AUDIENCE.execution)).toEqual({
      ok: false,
      reason: "token algorithm 'HS512' is not allowed",
    });
  });

  it('still checks issuer, audience and expiry on JWKS tokens', async () => {
    const verifier = createVerifier({ issuer: 'dagproc', keys: [], jwksUrl });
    const sign = (payload: Record<string, unknown>) => asymmetricToken('RS256', { kid: kidOf('RS256') }, payload, issuerKeys.RS256.privateKey);
    expect(await verifier.verify(sign(processorPayload({ iss: 'https://elsewhere' })), AUDIENCE.execution)).toEqual({
      ok: false,
      reason: "token issuer 'https://elsewhere' is not 'dagproc'",
    });
    expect(await verifier.verify(sign(processorPayload({ aud: ['dagproc:api'] })), AUDIENCE.execution)).toEqual({
      ok: false,
      reason: 'token audience does not include dagproc:execution',
    });
    expect(await verifier.verify(sign(processorPayload({ exp: 1 })), AUDIENCE.execution)).toEqual({ ok: false, reason: 'token expired' });
  });

  it('reports an unreachable JWKS as unavailable, not as a bad token', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const verifier = createVerifier({ issuer: 'dagproc', keys: [], jwksUrl: new URL(`http://127.0.0.1:${port}/jwks.json`) });
    const token = asymmetricToken('RS256', { kid: kidOf('RS256') }, processorPayload(), issuerKeys.RS256.privateKey);
    expect(await verifier.verify(token, AUDIENCE.execution)).toEqual({
      ok: false,
      reason: 'the JWKS of the token issuer could not be fetched',
      unavailable: true,
    });
  });
});

describe('a server with both a local secret and a JWKS URL', () => {
  it('accepts tokens from either', async () => {
    const auth = await createAuth({ issuer: 'dagproc', secret: new TextEncoder().encode(TEST_SECRET), jwksUrl });
    const local = await auth.signer.mintProcessorToken({ lifetimeSeconds: 60 });
    expect((await auth.verifier.verify(local.token, AUDIENCE.dagProcessing)).ok).toBe(true);
    const external = asymmetricToken('EdDSA', { kid: kidOf('EdDSA') }, processorPayload(), issuerKeys.EdDSA.privateKey);
    expect((await auth.verifier.verify(external, AUDIENCE.dagProcessing)).ok).toBe(true);
    expect(auth.verifier.algorithms).toEqual(['HS512', 'RS256', 'ES256', 'EdDSA']);
  });
});

describe('a JWKS-only server', () => {
  it('mints per-file tokens with an ephemeral key and verifies them, but mints nothing else', async () => {
    const auth = await createAuth({ issuer: 'dagproc', jwksUrl });
    expect(auth.ephemeral).toBe(true);
    expect(auth.jwks?.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });

    const { token } = await auth.signer.mintFileToken({ bundle: 'dags-folder', file: 'etl/daily.ts', lifetimeSeconds: 60 });
    const result = await auth.verifier.verify(token, AUDIENCE.execution);
    expect(result.ok && result.claims).toMatchObject({ sub: 'dag-file', bundle: 'dags-folder', file: 'etl/daily.ts' });
    await expect(auth.signer.mintProcessorToken({ lifetimeSeconds: 60 })).rejects.toThrow(/mints only for dag-file/);

    // An external EdDSA token without a kid goes to the JWKS, not to the ephemeral key.
    const external = asymmetricToken('EdDSA', {}, processorPayload(), issuerKeys.EdDSA.privateKey);
    expect((await auth.verifier.verify(external, AUDIENCE.execution)).ok).toBe(true);
  });

  it('does not verify per-file tokens another replica minted', async () => {
    const [replicaA, replicaB] = await Promise.all([createAuth({ issuer: 'dagproc', jwksUrl }), createAuth({ issuer: 'dagproc', jwksUrl })]);
    const { token } = await replicaA.signer.mintFileToken({ bundle: 'b', file: 'f.ts', lifetimeSeconds: 60 });
    const result = await replicaB.verifier.verify(token, AUDIENCE.execution);
    expect(result.ok).toBe(false);
  });
});
