import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeProtectedHeader } from 'jose';
import { AUDIENCE } from '@dagproc/shared/claims';
import { createAuth } from './index.ts';
import { readPrivateKeyFile } from './keys.ts';
import {
  asymmetricToken,
  generateTestKey,
  processorPayload,
  rfc7638Thumbprint,
  tempDir,
  writePkcs8Pem,
  type TestAlgorithm,
} from './testing.ts';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each<[TestAlgorithm, string, string]>([
  ['RS256', 'RSA', 'rsa.pem'],
  ['ES256', 'EC', 'ec.pem'],
  ['EdDSA', 'OKP', 'ed25519.pem'],
])('a PKCS#8 %s key file', (alg, kty, name) => {
  const { privateKey, publicKey } = generateTestKey(alg);
  const path = writePkcs8Pem(dir, name, privateKey);

  it('is detected as its algorithm from the key itself', () => {
    expect(readPrivateKeyFile(path).alg).toBe(alg);
  });

  it('signs tokens whose kid is the RFC 7638 thumbprint, and publishes only the public key', async () => {
    const auth = await createAuth({ issuer: 'dagproc', privateKey: readPrivateKeyFile(path) });
    const { token } = await auth.signer.mintProcessorToken({ lifetimeSeconds: 60 });
    const header = decodeProtectedHeader(token);
    expect(header).toMatchObject({ alg, kid: rfc7638Thumbprint(publicKey) });

    expect(auth.jwks?.keys).toHaveLength(1);
    const [jwk] = auth.jwks!.keys;
    expect(jwk).toMatchObject({ kty, kid: header.kid, alg, use: 'sig' });
    for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(jwk).not.toHaveProperty(privateMember);

    expect((await auth.verifier.verify(token, AUDIENCE.dagProcessing)).ok).toBe(true);
    expect(auth.verifier.algorithms).toEqual([alg]);
  });

  it('verifies a token node:crypto signed with it, and refuses one signed by another key', async () => {
    const auth = await createAuth({ issuer: 'dagproc', privateKey: readPrivateKeyFile(path) });
    const kid = rfc7638Thumbprint(publicKey);
    expect((await auth.verifier.verify(asymmetricToken(alg, { kid }, processorPayload(), privateKey), AUDIENCE.execution)).ok).toBe(true);

    const stranger = generateTestKey(alg).privateKey;
    expect(await auth.verifier.verify(asymmetricToken(alg, { kid }, processorPayload(), stranger), AUDIENCE.execution)).toEqual({
      ok: false,
      reason: 'token signature does not verify',
    });
  });
});

describe('a secret-only server', () => {
  it('publishes no JWKS', async () => {
    const auth = await createAuth({ issuer: 'dagproc', secret: new TextEncoder().encode('x'.repeat(32)) });
    expect(auth.jwks).toBeNull();
    expect(auth.ephemeral).toBe(false);
    expect(auth.signer.algorithm).toBe('HS512');
  });
});
