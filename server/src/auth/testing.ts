import { createHash, createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Test helpers that make tokens and keys the way a program outside dagproc would: with
 * node:crypto alone, so a test of the verifier does not lean on the code it tests.
 */

export const TEST_SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';

export const nowSeconds = () => Math.floor(Date.now() / 1000);

const segment = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export function hmacToken(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string, hash = 'sha512'): string {
  const input = `${segment(header)}.${segment(payload)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

export type TestAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

export function asymmetricToken(
  alg: TestAlgorithm,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  privateKey: KeyObject,
): string {
  const input = Buffer.from(`${segment({ ...header, alg })}.${segment(payload)}`);
  const signature =
    alg === 'EdDSA'
      ? sign(null, input, privateKey)
      : alg === 'ES256'
        ? sign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' })
        : sign('sha256', input, privateKey);
  return `${input.toString()}.${signature.toString('base64url')}`;
}

export function unsignedToken(payload: Record<string, unknown>): string {
  return `${segment({ alg: 'none', typ: 'JWT' })}.${segment(payload)}.`;
}

/** A valid processor payload; override or drop (`undefined`) fields per test. */
export function processorPayload(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSeconds();
  const payload: Record<string, unknown> = {
    iss: 'dagproc',
    sub: 'dag-processor',
    aud: ['dagproc:dag-processing', 'dagproc:execution'],
    scope: 'dag-processor',
    iat: now,
    nbf: now,
    exp: now + 600,
    jti: 'test-jti',
    ...overrides,
  };
  for (const [key, value] of Object.entries(payload)) if (value === undefined) delete payload[key];
  return payload;
}

export function generateTestKey(alg: TestAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  if (alg === 'RS256') return generateKeyPairSync('rsa', { modulusLength: 2048 });
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return generateKeyPairSync('ed25519');
}

export function tempDir(prefix = 'dagproc-auth-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writePkcs8Pem(dir: string, name: string, privateKey: KeyObject): string {
  const path = join(dir, name);
  writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return path;
}

/** RFC 7638 by hand: the required members in lexicographic order, SHA-256, base64url. */
export function rfc7638Thumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  const required =
    jwk.kty === 'RSA'
      ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
      : jwk.kty === 'EC'
        ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
        : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(required)).digest('base64url');
}
