import { describe, expect, it } from 'vitest';
import { ConfigError, parseEnv } from '@dagproc/shared/config/env';
import { z } from 'zod';
import {
  generateSecretKey,
  isEnvelope,
  openExtra,
  parseSecretKey,
  sealExtra,
  sealedWith,
  SecretCipher,
  secretAad,
  secretKeyEnv,
  SecretUnavailableError,
  type SecretKey,
} from './cipher.ts';

const key = (raw = generateSecretKey()) => parseSecretKey(raw) as SecretKey;
const oldKey = key();
const newKey = key();
const aad = secretAad.variable('api_key');

function errorOf(f: () => unknown): SecretUnavailableError {
  try {
    f();
  } catch (error) {
    if (error instanceof SecretUnavailableError) return error;
    throw error;
  }
  throw new Error('expected a SecretUnavailableError');
}

describe('secret cipher', () => {
  it('seals to a self-describing envelope that opens to the plaintext', () => {
    const cipher = new SecretCipher({ current: newKey, previous: [] });
    const sealed = cipher.seal('p@ss wörd', aad);
    expect(sealed).toMatch(new RegExp(`^dgp:v1:${newKey.id}:[A-Za-z0-9_-]+$`));
    expect(sealed).not.toContain('p@ss');
    expect(sealedWith(sealed)).toBe(newKey.id);
    expect(cipher.open(sealed, aad, 'x')).toBe('p@ss wörd');
  });

  it('seals the same value differently each time (a fresh IV per value)', () => {
    const cipher = new SecretCipher({ current: newKey, previous: [] });
    expect(cipher.seal('same', aad)).not.toBe(cipher.seal('same', aad));
  });

  it('refuses a tampered envelope instead of answering garbage', () => {
    const cipher = new SecretCipher({ current: newKey, previous: [] });
    const sealed = cipher.seal('value', aad);
    const body = Buffer.from(sealed.split(':')[3]!, 'base64url');
    body[body.length - 20]! ^= 1;
    const tampered = `dgp:v1:${newKey.id}:${body.toString('base64url')}`;
    const error = errorOf(() => cipher.open(tampered, aad, "variable 'api_key'"));
    expect(error.reason).toBe('tampered');
    expect(error.message).toBe(`cannot decrypt variable 'api_key': the stored value does not authenticate under key ${newKey.id} (tampered or corrupted)`);
  });

  it('refuses an envelope moved to another row or column', () => {
    const cipher = new SecretCipher({ current: newKey, previous: [] });
    const sealed = cipher.seal('warehouse password', secretAad.password('warehouse'));
    expect(errorOf(() => cipher.open(sealed, secretAad.variable('exported'), 'x')).reason).toBe('tampered');
    expect(errorOf(() => cipher.open(sealed, secretAad.password('other'), 'x')).reason).toBe('tampered');
  });

  it('names the missing key when a value was sealed under a key the server does not hold', () => {
    const sealed = new SecretCipher({ current: oldKey, previous: [] }).seal('value', aad);
    const error = errorOf(() => new SecretCipher({ current: newKey, previous: [] }).open(sealed, aad, "variable 'api_key'"));
    expect(error.reason).toBe('key-missing');
    expect(error.message).toContain(`encrypted with key ${oldKey.id}, which this server does not hold`);
    expect(error.message).toContain('DAGPROC_SECRET_KEY_PREVIOUS');
    expect(errorOf(() => new SecretCipher({ current: undefined, previous: [] }).open(sealed, aad, 'x')).message).toContain('DAGPROC_SECRET_KEY is not set');
  });

  it('opens values of a previous key after rotation, and seals new ones under the current key', () => {
    const before = new SecretCipher({ current: oldKey, previous: [] });
    const sealed = before.seal('value', aad);
    const after = new SecretCipher({ current: newKey, previous: [oldKey] });
    expect(after.open(sealed, aad, 'x')).toBe('value');
    expect(after.isCurrent(sealed)).toBe(false);
    const resealed = after.seal(after.open(sealed, aad, 'x'), aad);
    expect(after.isCurrent(resealed)).toBe(true);
    expect(new SecretCipher({ current: newKey, previous: [] }).open(resealed, aad, 'x')).toBe('value');
  });

  it('stores plaintext as is without a key, and reads plaintext rows with or without one', () => {
    const none = new SecretCipher({ current: undefined, previous: [] });
    expect(none.seal('plain', aad)).toBe('plain');
    expect(none.isCurrent('plain')).toBe(true);
    expect(new SecretCipher({ current: newKey, previous: [] }).open('legacy plaintext', aad, 'x')).toBe('legacy plaintext');
    expect(new SecretCipher({ current: newKey, previous: [] }).isCurrent('legacy plaintext')).toBe(false);
  });

  it('without a key, refuses to store plaintext that would read back as an envelope', () => {
    const lookalike = new SecretCipher({ current: newKey, previous: [] }).seal('v', aad);
    expect(isEnvelope(lookalike)).toBe(true);
    const error = errorOf(() => new SecretCipher({ current: undefined, previous: [] }).seal(lookalike, aad));
    expect(error.reason).toBe('refused');
  });

  it("seals a Connection's extra as a JSON string and reads back the object; a plain object stays readable", () => {
    const cipher = new SecretCipher({ current: newKey, previous: [] });
    const column = sealExtra(cipher, 'warehouse', { api_token: 'tok', region: 'eu' })!;
    const stored: unknown = JSON.parse(column);
    expect(typeof stored).toBe('string');
    expect(column).not.toContain('tok');
    expect(openExtra(cipher, 'warehouse', stored)).toEqual({ api_token: 'tok', region: 'eu' });
    expect(openExtra(cipher, 'warehouse', { region: 'eu' })).toEqual({ region: 'eu' });
    expect(sealExtra(new SecretCipher({ current: undefined, previous: [] }), 'w', { a: 1 })).toBe('{"a":1}');
  });
});

describe('secret key settings', () => {
  const parse = (env: Record<string, string>) => parseEnv(z.object(secretKeyEnv), env);

  it('takes 32 bytes in base64 or base64url', () => {
    const bytes = Buffer.alloc(32, 7);
    const a = parse({ DAGPROC_SECRET_KEY: bytes.toString('base64') }).DAGPROC_SECRET_KEY!;
    const b = parse({ DAGPROC_SECRET_KEY: bytes.toString('base64url') }).DAGPROC_SECRET_KEY!;
    expect(a.bytes.equals(bytes)).toBe(true);
    expect(a.id).toBe(b.id);
    expect(a.id).toMatch(/^[0-9a-f]{8}$/);
  });

  it('refuses a key of the wrong length or form, naming the setting and never echoing the value', () => {
    expect(() => parse({ DAGPROC_SECRET_KEY: 'too-short' })).toThrow(ConfigError);
    expect(() => parse({ DAGPROC_SECRET_KEY: Buffer.alloc(16).toString('base64') })).toThrow(
      'DAGPROC_SECRET_KEY: must be 32 bytes in base64 or base64url (openssl rand -base64 32); this one decodes to 16 bytes',
    );
    let message = '';
    try {
      parse({ DAGPROC_SECRET_KEY: 'not a key at all!' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^DAGPROC_SECRET_KEY: /);
    expect(message).not.toContain('not a key');
  });

  it('reads previous keys as a comma-separated list and names a bad one by position', () => {
    const [k1, k2] = [generateSecretKey(), generateSecretKey()];
    expect(parse({ DAGPROC_SECRET_KEY_PREVIOUS: `${k1}, ${k2}` }).DAGPROC_SECRET_KEY_PREVIOUS.map((k) => k.id)).toEqual([key(k1).id, key(k2).id]);
    expect(() => parse({ DAGPROC_SECRET_KEY_PREVIOUS: `${k1},nope` })).toThrow(/^DAGPROC_SECRET_KEY_PREVIOUS: key 2 of the list must be 32 bytes/);
  });
});
