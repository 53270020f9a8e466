import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, parseEnv } from '@dagproc/shared/config/env';
import { authConfigFromEnv, authEnv, parseAuthConfig, redactSecret } from './config.ts';
import { tempDir, writePkcs8Pem } from './testing.ts';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configError(env: Record<string, string | undefined>): string {
  try {
    parseAuthConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('DAGPROC_JWT_SECRET', () => {
  it('is used as its UTF-8 bytes', () => {
    const secret = '€'.repeat(11); // 11 characters, 33 bytes
    expect(parseAuthConfig({ DAGPROC_JWT_SECRET: secret }).secret).toEqual(new TextEncoder().encode(secret));
  });

  it('must be at least 32 bytes, counted as UTF-8 and not as characters', () => {
    expect(configError({ DAGPROC_JWT_SECRET: 'x'.repeat(31) })).toBe('DAGPROC_JWT_SECRET: must be at least 32 bytes');
    expect(configError({ DAGPROC_JWT_SECRET: '€'.repeat(10) })).toBe('DAGPROC_JWT_SECRET: must be at least 32 bytes');
    expect(parseAuthConfig({ DAGPROC_JWT_SECRET: 'x'.repeat(32) }).secret?.byteLength).toBe(32);
  });

  it('is never echoed in the error, even when a server composes authEnv into its own schema', () => {
    const shortSecret = 'hunter2-but-a-little-longer';
    expect(configError({ DAGPROC_JWT_SECRET: shortSecret })).not.toContain(shortSecret);
    const serverEnv = z.object({ DAGPROC_PORT: z.string().optional(), ...authEnv });
    let message = '';
    try {
      parseEnv(serverEnv, { DAGPROC_JWT_SECRET: shortSecret });
    } catch (error) {
      message = (redactSecret(error) as Error).message;
    }
    expect(message).toBe('DAGPROC_JWT_SECRET: must be at least 32 bytes');
  });
});

describe('DAGPROC_JWT_ISSUER and DAGPROC_JWT_JWKS_URL', () => {
  it('the issuer defaults to dagproc', () => {
    expect(parseAuthConfig({}).issuer).toBe('dagproc');
    expect(parseAuthConfig({ DAGPROC_JWT_ISSUER: 'https://idp.example' }).issuer).toBe('https://idp.example');
  });

  it('the JWKS URL must be http(s)', () => {
    expect(parseAuthConfig({ DAGPROC_JWT_JWKS_URL: 'https://idp.example/jwks.json' }).jwksUrl?.href).toBe('https://idp.example/jwks.json');
    expect(configError({ DAGPROC_JWT_JWKS_URL: 'file:///etc/jwks.json' })).toBe(
      'DAGPROC_JWT_JWKS_URL: must be an http(s) URL (got "file:///etc/jwks.json")',
    );
    expect(configError({ DAGPROC_JWT_JWKS_URL: 'not a url' })).toMatch(/^DAGPROC_JWT_JWKS_URL: must be an http\(s\) URL/);
  });
});

describe('DAGPROC_JWT_PRIVATE_KEY_PATH', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const writePem = (name: string, pem: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, pem);
    return path;
  };
  const pkcs8 = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();

  it('reads a PKCS#8 key and decides its algorithm', () => {
    const config = parseAuthConfig({ DAGPROC_JWT_PRIVATE_KEY_PATH: writePkcs8Pem(dir, 'good.pem', rsa.privateKey) });
    expect(config.privateKey?.alg).toBe('RS256');
  });

  it.each<[string, () => string, RegExp]>([
    ['a missing file', () => join(dir, 'missing.pem'), /cannot be read \(no such file\)/],
    ['a directory', () => dir, /cannot be read \(it is a directory\)/],
    ['an empty file', () => writePem('empty.pem', ''), /is not a PKCS#8 PEM private key/],
    ['a PKCS#1 RSA key', () => writePem('pkcs1.pem', rsa.privateKey.export({ type: 'pkcs1', format: 'pem' })), /is not PKCS#8; convert it/],
    [
      'a SEC1 EC key',
      () => writePem('sec1.pem', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' })),
      /is not PKCS#8/,
    ],
    [
      'an encrypted PKCS#8 key',
      () => writePem('enc.pem', rsa.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' })),
      /holds an encrypted key/,
    ],
    ['a public key', () => writePem('pub.pem', rsa.publicKey.export({ type: 'spki', format: 'pem' })), /holds a public key or certificate/],
    ['a truncated PKCS#8 block', () => writePem('short.pem', truncate(pkcs8(rsa.privateKey))), /does not decode as a private key/],
    ['a damaged RSA key that still decodes', () => writePem('bad.pem', corrupt(pkcs8(rsa.privateKey))), /holds a damaged key/],
    ['a 1024-bit RSA key', () => writePem('rsa1024.pem', pkcs8(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey)), /1024-bit RSA key; RS256 needs at least 2048/],
    ['an EC P-384 key', () => writePem('p384.pem', pkcs8(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey)), /EC key on secp384r1; only P-256/],
    ['an Ed448 key', () => writePem('ed448.pem', pkcs8(generateKeyPairSync('ed448').privateKey)), /holds a ed448 key; use RSA, EC P-256 or Ed25519/],
  ])('refuses %s with one line naming the variable and the path, and no key material', (_label, makePath, reason) => {
    const path = makePath();
    const message = configError({ DAGPROC_JWT_PRIVATE_KEY_PATH: path });
    expect(message.startsWith('DAGPROC_JWT_PRIVATE_KEY_PATH: the key file ')).toBe(true);
    expect(message).toMatch(reason);
    expect(message).toContain(JSON.stringify(path));
    expect(message).not.toContain('\n');
    expect(message).not.toMatch(/MII|MC4/); // how PKCS#8 bodies of these key types begin
    expectNoKeyMaterial(message, path);
  });

  it.skipIf(process.getuid?.() === 0)('refuses a file it may not read', () => {
    const path = writePkcs8Pem(dir, 'locked.pem', rsa.privateKey);
    chmodSync(path, 0o000);
    expect(configError({ DAGPROC_JWT_PRIVATE_KEY_PATH: path })).toMatch(/cannot be read \(permission denied\)/);
  });

  it('may not be set together with DAGPROC_JWT_SECRET', () => {
    expect(
      configError({ DAGPROC_JWT_SECRET: 'x'.repeat(32), DAGPROC_JWT_PRIVATE_KEY_PATH: writePkcs8Pem(dir, 'both.pem', rsa.privateKey) }),
    ).toBe('DAGPROC_JWT_SECRET and DAGPROC_JWT_PRIVATE_KEY_PATH are both set; set only one signing key');
  });

  it('composes into a server schema', () => {
    const serverEnv = z.object({ DAGPROC_PORT: z.string().optional(), ...authEnv });
    const parsed = parseEnv(serverEnv, { DAGPROC_PORT: '9000', DAGPROC_JWT_PRIVATE_KEY_PATH: writePkcs8Pem(dir, 'composed.pem', rsa.privateKey) });
    expect(parsed.DAGPROC_PORT).toBe('9000');
    expect(authConfigFromEnv(parsed).privateKey?.alg).toBe('RS256');
  });
});

/** Scrambles bytes inside the RSA modulus: the DER still decodes, the key no longer works. */
function corrupt(pem: string): string {
  const lines = pem.split('\n');
  lines[2] = lines[2]!.split('').reverse().join('');
  return lines.join('\n');
}

/** Keeps the first half of the base64 body, so the DER structure ends too soon. */
function truncate(pem: string): string {
  const lines = pem.trim().split('\n');
  return [...lines.slice(0, Math.floor(lines.length / 2)), lines.at(-1)!].join('\n') + '\n';
}

function expectNoKeyMaterial(message: string, path: string): void {
  let body = '';
  try {
    body = readFileSync(path, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  } catch {
    return; // nothing readable, so nothing to leak
  }
  for (let i = 0; i + 16 <= body.length; i += 16) expect(message).not.toContain(body.slice(i, i + 16));
}
