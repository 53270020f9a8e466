import { createHmac, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AUDIENCE, type Audience } from '@dagproc/shared/claims';
import { secretKey } from './keys.ts';
import { bundleAllowed, createVerifier, forbiddenBundles, verificationKeyFor } from './verify.ts';
import { TEST_SECRET, asymmetricToken, hmacToken, nowSeconds, processorPayload, unsignedToken } from './testing.ts';

const HS512 = { alg: 'HS512', typ: 'JWT' };
const verifier = createVerifier({ issuer: 'dagproc', keys: [verificationKeyFor(secretKey(TEST_SECRET))] });

function signedRaw(payloadText: string): string {
  const input = `${Buffer.from(JSON.stringify(HS512)).toString('base64url')}.${Buffer.from(payloadText).toString('base64url')}`;
  return `${input}.${createHmac('sha512', TEST_SECRET).update(input).digest('base64url')}`;
}

async function reasonFor(token: string, audience: Audience = AUDIENCE.execution) {
  const result = await verifier.verify(token, audience);
  expect(result.ok).toBe(false);
  return result.ok ? undefined : result.reason;
}

describe('a token minted outside dagproc with HMAC-SHA512', () => {
  it('is accepted, with its claims, when valid', async () => {
    const payload = processorPayload({ bundles: ['dags-folder'] });
    const result = await verifier.verify(hmacToken(HS512, payload, TEST_SECRET), AUDIENCE.dagProcessing);
    expect(result).toEqual({
      ok: true,
      claims: {
        sub: 'dag-processor',
        scope: 'dag-processor',
        bundles: ['dags-folder'],
        jti: 'test-jti',
        iss: 'dagproc',
        aud: ['dagproc:dag-processing', 'dagproc:execution'],
        iat: payload.iat,
        nbf: payload.nbf,
        exp: payload.exp,
      },
    });
  });

  it('is accepted with a single-string audience', async () => {
    const result = await verifier.verify(hmacToken(HS512, processorPayload({ aud: 'dagproc:execution' }), TEST_SECRET), AUDIENCE.execution);
    expect(result.ok && result.claims.aud).toEqual(['dagproc:execution']);
  });

  it('is accepted a few seconds past exp or before nbf, within the clock leeway', async () => {
    const now = nowSeconds();
    expect((await verifier.verify(hmacToken(HS512, processorPayload({ exp: now - 5 }), TEST_SECRET), AUDIENCE.execution)).ok).toBe(true);
    expect((await verifier.verify(hmacToken(HS512, processorPayload({ nbf: now + 5 }), TEST_SECRET), AUDIENCE.execution)).ok).toBe(true);
  });
});

describe('a token is refused with a specific reason when', () => {
  it('it has expired', async () => {
    expect(await reasonFor(hmacToken(HS512, processorPayload({ exp: nowSeconds() - 60 }), TEST_SECRET))).toBe('token expired');
  });

  it('it is not yet valid', async () => {
    expect(await reasonFor(hmacToken(HS512, processorPayload({ nbf: nowSeconds() + 60 }), TEST_SECRET))).toBe('token not yet valid (nbf)');
  });

  it('another key signed it', async () => {
    const token = hmacToken(HS512, processorPayload(), 'another-secret-that-is-also-32-bytes-or-more');
    expect(await reasonFor(token)).toBe('token signature does not verify');
  });

  it('its payload was changed after signing', async () => {
    const [header, , signature] = hmacToken(HS512, processorPayload(), TEST_SECRET).split('.');
    const forged = Buffer.from(JSON.stringify(processorPayload({ bundles: undefined, sub: 'admin' }))).toString('base64url');
    expect(await reasonFor(`${header}.${forged}.${signature}`)).toBe('token signature does not verify');
  });

  it('its audience is another app', async () => {
    const token = hmacToken(HS512, processorPayload({ aud: ['dagproc:api'] }), TEST_SECRET);
    expect(await reasonFor(token, AUDIENCE.execution)).toBe('token audience does not include dagproc:execution');
  });

  it('a per-file token is presented to the processor router', async () => {
    const token = hmacToken(HS512, processorPayload({ sub: 'dag-file', aud: ['dagproc:execution'], bundle: 'b', file: 'f.ts' }), TEST_SECRET);
    expect(await reasonFor(token, AUDIENCE.dagProcessing)).toBe('token audience does not include dagproc:dag-processing');
  });

  it('another issuer minted it', async () => {
    expect(await reasonFor(hmacToken(HS512, processorPayload({ iss: 'x' }), TEST_SECRET))).toBe("token issuer 'x' is not 'dagproc'");
    expect(await reasonFor(hmacToken(HS512, processorPayload({ iss: undefined }), TEST_SECRET))).toBe('token has no iss');
  });

  it('it is unsigned (alg none)', async () => {
    expect(await reasonFor(unsignedToken(processorPayload()))).toBe("token algorithm 'none' is not allowed");
  });

  it('it is signed with HS256 rather than HS512, even with the right secret', async () => {
    const token = hmacToken({ alg: 'HS256', typ: 'JWT' }, processorPayload(), TEST_SECRET, 'sha256');
    expect(await reasonFor(token)).toBe("token algorithm 'HS256' is not allowed");
  });

  it('it has no exp', async () => {
    expect(await reasonFor(hmacToken(HS512, processorPayload({ exp: undefined }), TEST_SECRET))).toBe('token has no exp');
  });

  it('its exp is not a number', async () => {
    expect(await reasonFor(hmacToken(HS512, processorPayload({ exp: 'tomorrow' }), TEST_SECRET))).toBe('token exp is not a number');
  });

  it('it has no aud', async () => {
    expect(await reasonFor(hmacToken(HS512, processorPayload({ aud: undefined }), TEST_SECRET))).toBe('token has no aud');
  });

  it('its claims do not fit dagproc (no sub, bundles not a list)', async () => {
    expect(await reasonFor(hmacToken(HS512, processorPayload({ sub: undefined }), TEST_SECRET))).toMatch(/^token claim 'sub' is invalid/);
    expect(await reasonFor(hmacToken(HS512, processorPayload({ bundles: 'a' }), TEST_SECRET))).toMatch(/^token claim 'bundles' is invalid/);
  });

  it.each([
    ['an empty string', ''],
    ['a word', 'garbage'],
    ['two segments', 'a.b'],
    ['three segments of nonsense', 'a.b.c'],
    ['a header that is not JSON', `${Buffer.from('{nope').toString('base64url')}.e30.sig`],
    ['a header with no alg', `${Buffer.from('{"typ":"JWT"}').toString('base64url')}.e30.sig`],
    ['a correctly signed payload that is not JSON', signedRaw('nope')],
    ['a correctly signed payload that is a JSON array', signedRaw('[1]')],
    ['a JWE-shaped token', 'a.b.c.d.e'],
  ])('it is %s (malformed)', async (_label, token) => {
    expect(await reasonFor(token)).toBe('malformed token');
  });

  it('it is absurdly large', async () => {
    expect(await reasonFor(hmacToken(HS512, processorPayload({ pad: 'x'.repeat(20_000) }), TEST_SECRET))).toBe('token is too large');
  });

  it('a hostile issuer is quoted short and printable', async () => {
    const reason = await reasonFor(hmacToken(HS512, processorPayload({ iss: `evil\n${'y'.repeat(500)}` }), TEST_SECRET));
    expect(reason).toMatch(/^token issuer 'evil\?y+\.\.\.' is not 'dagproc'$/);
    expect(reason!.length).toBeLessThan(120);
  });
});

describe('an asymmetric verifier', () => {
  it('refuses an HS256 token whose secret is the public key (algorithm confusion)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsa = createVerifier({ issuer: 'dagproc', keys: [{ alg: 'RS256', key: publicKey, kid: 'k1' }] });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const confused = hmacToken({ alg: 'HS256', kid: 'k1' }, processorPayload(), pem, 'sha256');
    expect(await rsa.verify(confused, AUDIENCE.execution)).toEqual({ ok: false, reason: "token algorithm 'HS256' is not allowed" });
    expect((await rsa.verify(asymmetricToken('RS256', { kid: 'k1' }, processorPayload(), privateKey), AUDIENCE.execution)).ok).toBe(true);
    expect(await rsa.verify(asymmetricToken('RS256', { kid: 'k2' }, processorPayload(), privateKey), AUDIENCE.execution)).toEqual({
      ok: false,
      reason: "token key id 'k2' is not known",
    });
  });

  it('accepts a key limited to some subjects only for those subjects', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const limited = createVerifier({ issuer: 'dagproc', keys: [{ alg: 'EdDSA', key: publicKey, kid: 'eph', subjects: ['dag-file'] }] });
    const fileToken = asymmetricToken('EdDSA', { kid: 'eph' }, processorPayload({ sub: 'dag-file', aud: ['dagproc:execution'] }), privateKey);
    expect((await limited.verify(fileToken, AUDIENCE.execution)).ok).toBe(true);
    const processorToken = asymmetricToken('EdDSA', { kid: 'eph' }, processorPayload(), privateKey);
    expect(await limited.verify(processorToken, AUDIENCE.execution)).toEqual({
      ok: false,
      reason: "token subject 'dag-processor' may not use this signing key",
    });
  });

  it('allows only its own algorithms, never none', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(createVerifier({ issuer: 'dagproc', keys: [{ alg: 'ES256', key: publicKey }] }).algorithms).toEqual(['ES256']);
    expect(verifier.algorithms).toEqual(['HS512']);
  });
});

describe('bundle helpers', () => {
  it('a token without a bundles claim may touch every bundle', () => {
    expect(bundleAllowed({}, 'anything')).toBe(true);
    expect(forbiddenBundles({}, ['a', 'b'])).toEqual([]);
  });

  it('a token with a bundles claim may touch only those', () => {
    const claims = { bundles: ['a', 'b'] };
    expect(bundleAllowed(claims, 'a')).toBe(true);
    expect(bundleAllowed(claims, 'c')).toBe(false);
    expect(forbiddenBundles(claims, ['a', 'c', 'd', 'c', 'b'])).toEqual(['c', 'd']);
  });

  it('an empty bundles claim allows nothing', () => {
    expect(bundleAllowed({ bundles: [] }, 'a')).toBe(false);
  });

  it('a per-file token is limited to its own bundle', () => {
    expect(bundleAllowed({ bundle: 'a' }, 'a')).toBe(true);
    expect(forbiddenBundles({ bundle: 'a' }, ['a', 'b'])).toEqual(['b']);
  });
});
