import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { AUDIENCE } from '@dagproc/shared/claims';
import { secretKey } from './keys.ts';
import { createSigner } from './mint.ts';
import { createVerifier, verificationKeyFor } from './verify.ts';
import { TEST_SECRET } from './testing.ts';

const key = secretKey(TEST_SECRET);
const fixedNow = new Date('2030-01-02T03:04:05.678Z');
const signer = createSigner(key, { issuer: 'dagproc', now: () => fixedNow });
const verifier = createVerifier({ issuer: 'dagproc', keys: [verificationKeyFor(key)], now: () => fixedNow });

describe('minting', () => {
  it('a processor token carries the claims DESIGN.md fixes', async () => {
    const { token, expiresAt, jti } = await signer.mintProcessorToken({ lifetimeSeconds: 3600, bundles: ['dags-folder', 'team-a'] });
    const iat = Math.floor(fixedNow.getTime() / 1000);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS512', typ: 'JWT' });
    expect(decodeJwt(token)).toEqual({
      iss: 'dagproc',
      sub: 'dag-processor',
      aud: ['dagproc:dag-processing', 'dagproc:execution'],
      scope: 'dag-processor',
      bundles: ['dags-folder', 'team-a'],
      iat,
      nbf: iat,
      exp: iat + 3600,
      jti,
    });
    expect(jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(expiresAt.getTime()).toBe((iat + 3600) * 1000);
  });

  it('signs with HMAC-SHA512 over the header and payload, as any other JWT library would check', async () => {
    const { token } = await signer.mintProcessorToken({ lifetimeSeconds: 60 });
    const [header, payload, signature] = token.split('.');
    expect(createHmac('sha512', TEST_SECRET).update(`${header}.${payload}`).digest('base64url')).toBe(signature);
  });

  it('a per-file token is for the Execution API only, naming its bundle and file', async () => {
    const { token } = await signer.mintFileToken({ bundle: 'dags-folder', file: 'etl/daily.ts', lifetimeSeconds: 120 });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: 'dag-file', aud: ['dagproc:execution'], bundle: 'dags-folder', file: 'etl/daily.ts' });
    expect(claims).not.toHaveProperty('scope');
    expect((await verifier.verify(token, AUDIENCE.execution)).ok).toBe(true);
    expect(await verifier.verify(token, AUDIENCE.dagProcessing)).toEqual({
      ok: false,
      reason: 'token audience does not include dagproc:dag-processing',
    });
  });

  it('an API token is for the public API only', async () => {
    const { token } = await signer.mintApiToken({ subject: 'admin', lifetimeSeconds: 60 });
    expect(decodeJwt(token)).toMatchObject({ sub: 'admin', aud: ['dagproc:api'], scope: 'api' });
  });

  it('each token has its own jti', async () => {
    const a = await signer.mintProcessorToken({ lifetimeSeconds: 60 });
    const b = await signer.mintProcessorToken({ lifetimeSeconds: 60 });
    expect(a.jti).not.toBe(b.jti);
  });

  it('extra claims are added but may not override the registered ones', async () => {
    const { token } = await signer.mint({ subject: 'x', audience: [AUDIENCE.api], lifetimeSeconds: 60, extra: { team: 'data' } });
    expect(decodeJwt(token)).toMatchObject({ team: 'data' });
    await expect(
      signer.mint({ subject: 'x', audience: [AUDIENCE.api], lifetimeSeconds: 60, extra: { exp: 9_999_999_999, aud: 'x' } }),
    ).rejects.toThrow('extra claims may not set exp, aud');
  });

  it.each([
    ['no audience', { subject: 'x', audience: [], lifetimeSeconds: 60 }, /at least one audience/],
    ['no subject', { subject: '', audience: [AUDIENCE.api], lifetimeSeconds: 60 }, /needs a subject/],
    ['a zero lifetime', { subject: 'x', audience: [AUDIENCE.api], lifetimeSeconds: 0 }, /lifetime/],
    ['a fractional lifetime', { subject: 'x', audience: [AUDIENCE.api], lifetimeSeconds: 1.5 }, /lifetime/],
    ['a bad bundle name', { subject: 'x', audience: [AUDIENCE.api], lifetimeSeconds: 60, bundles: ['../x'] }, /bundle name "\.\.\/x"/],
    ['a file outside its bundle', { subject: 'x', audience: [AUDIENCE.api], lifetimeSeconds: 60, bundle: 'b', file: '../x.ts' }, /file "\.\.\/x\.ts"/],
  ])('refuses %s', async (_label, request, message) => {
    await expect(signer.mint(request)).rejects.toThrow(message);
  });
});
