import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { z } from 'zod';

/**
 * Secrets at rest: Variable values and Connection passwords and extras are stored as
 * AES-256-GCM envelopes under a key only the server holds (DAGPROC_SECRET_KEY).
 *
 * An envelope is text, so it fits the columns that held plaintext before:
 *
 *     dgp:v1:<key id, 8 hex>:<base64url(iv 12 bytes | ciphertext | tag 16 bytes)>
 *
 * The key id says which key sealed it, so a server holding older keys
 * (DAGPROC_SECRET_KEY_PREVIOUS) still opens what they sealed until `secrets rotate-key`
 * re-seals it. The additional data binds an envelope to its row and column
 * (`variable:<key>`, `connection:<connId>:password`): an envelope copied into another row
 * fails to open instead of handing one secret out under another name.
 *
 * Anything that is not an envelope is plaintext: rows written before encryption existed, or
 * by a server with no key.
 */

const ENVELOPE = /^dgp:v1:([0-9a-f]{8}):([A-Za-z0-9_-]+)$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const SECRET_KEY_BYTES = 32;

export interface SecretKey {
  /** HMAC of a fixed label under the key: names the key without revealing it. */
  id: string;
  bytes: Buffer;
}

/** A stored value cannot be opened: its key is not configured, or it does not authenticate. */
export class SecretUnavailableError extends Error {
  override name = 'SecretUnavailableError';
  constructor(
    message: string,
    /** key-missing: a configuration fault (503); tampered: a damaged row (500); refused: bad input (400). */
    readonly reason: 'key-missing' | 'tampered' | 'refused',
  ) {
    super(message);
  }
}

/** 32 bytes in base64 or base64url (`openssl rand -base64 32`); null with why when not. */
export function parseSecretKey(raw: string): SecretKey | string {
  const text = raw.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return `must be ${SECRET_KEY_BYTES} bytes in base64 or base64url (openssl rand -base64 32)`;
  const bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length !== SECRET_KEY_BYTES) {
    return `must be ${SECRET_KEY_BYTES} bytes in base64 or base64url (openssl rand -base64 32); this one decodes to ${bytes.length} bytes`;
  }
  return { id: keyId(bytes), bytes };
}

export function keyId(bytes: Buffer): string {
  return createHmac('sha256', bytes).update('dagproc secret key id').digest('hex').slice(0, 8);
}

export function generateSecretKey(): string {
  return randomBytes(SECRET_KEY_BYTES).toString('base64url');
}

/** The environment's key settings, for the server's schema and `secrets rotate-key`. */
export const secretKeyEnv = {
  DAGPROC_SECRET_KEY: z
    .string()
    .optional()
    .transform((raw, ctx): SecretKey | undefined => {
      if (raw === undefined) return undefined;
      const key = parseSecretKey(raw);
      if (typeof key === 'string') {
        ctx.addIssue({ code: 'custom', message: key });
        return z.NEVER;
      }
      return key;
    }),
  DAGPROC_SECRET_KEY_PREVIOUS: z
    .string()
    .optional()
    .transform((raw, ctx): SecretKey[] => {
      if (raw === undefined) return [];
      const keys: SecretKey[] = [];
      for (const [i, part] of raw.split(',').map((s) => s.trim()).filter(Boolean).entries()) {
        const key = parseSecretKey(part);
        if (typeof key === 'string') {
          ctx.addIssue({ code: 'custom', message: `key ${i + 1} of the list ${key}` });
          return z.NEVER;
        }
        keys.push(key);
      }
      return keys;
    }),
};

export interface SecretKeys {
  /** Seals new values; none = values are stored in plaintext. */
  current: SecretKey | undefined;
  /** Open only. */
  previous: SecretKey[];
}

export const isEnvelope = (stored: string): boolean => ENVELOPE.test(stored);

/** The id of the key that sealed a stored value, or null for plaintext. */
export function sealedWith(stored: string): string | null {
  return ENVELOPE.exec(stored)?.[1] ?? null;
}

/**
 * Seals and opens stored secrets. `aad` names the row and column the value belongs to, and
 * `what` (e.g. "variable 'target'") is for error messages only.
 */
export class SecretCipher {
  private readonly byId = new Map<string, SecretKey[]>();

  constructor(readonly keys: SecretKeys) {
    for (const key of [keys.current, ...keys.previous]) {
      if (!key) continue;
      this.byId.set(key.id, [...(this.byId.get(key.id) ?? []), key]);
    }
  }

  get encrypts(): boolean {
    return this.keys.current !== undefined;
  }

  /** An envelope under the current key, or the plaintext itself when there is no key. */
  seal(plaintext: string, aad: string): string {
    const key = this.keys.current;
    if (!key) {
      // Plaintext must never read back as an envelope it is not.
      if (isEnvelope(plaintext)) {
        throw new SecretUnavailableError('a value shaped like an encrypted envelope (dgp:v1:...) cannot be stored while DAGPROC_SECRET_KEY is not set', 'refused');
      }
      return plaintext;
    }
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.bytes, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `dgp:v1:${key.id}:${body.toString('base64url')}`;
  }

  open(stored: string, aad: string, what: string): string {
    const match = ENVELOPE.exec(stored);
    if (!match) return stored;
    const [, id, encoded] = match as unknown as [string, string, string];
    const candidates = this.byId.get(id);
    if (!candidates) {
      throw new SecretUnavailableError(
        `cannot decrypt ${what}: it was encrypted with key ${id}, which this server does not hold ` +
          `(DAGPROC_SECRET_KEY${this.keys.current ? ` is key ${this.keys.current.id}` : ' is not set'}; ` +
          `add the old key to DAGPROC_SECRET_KEY_PREVIOUS)`,
        'key-missing',
      );
    }
    const body = Buffer.from(encoded, 'base64url');
    if (body.length >= IV_BYTES + TAG_BYTES) {
      for (const key of candidates) {
        try {
          const decipher = createDecipheriv('aes-256-gcm', key.bytes, body.subarray(0, IV_BYTES));
          decipher.setAAD(Buffer.from(aad, 'utf8'));
          decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
          return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
        } catch {
          // another key with the same id, or a bad envelope: try the next, then fail below
        }
      }
    }
    throw new SecretUnavailableError(`cannot decrypt ${what}: the stored value does not authenticate under key ${id} (tampered or corrupted)`, 'tampered');
  }

  /** True when the value is already sealed under the current key (or stays plaintext with no key). */
  isCurrent(stored: string): boolean {
    const id = sealedWith(stored);
    return this.keys.current ? id === this.keys.current.id : id === null;
  }
}

/** What rows are bound to, so an envelope opens only where it was sealed. */
export const secretAad = {
  variable: (key: string) => `variable:${key}`,
  password: (connId: string) => `connection:${connId}:password`,
  extra: (connId: string) => `connection:${connId}:extra`,
};

type JsonRecord = Record<string, unknown>;

/**
 * A Connection's extra lives in a jsonb column: an object when plaintext, a JSON string
 * holding the envelope when sealed. These give the column's JSON text and read it back.
 */
export function sealExtra(cipher: SecretCipher, connId: string, extra: JsonRecord | null): string | null {
  if (extra === null) return null;
  const text = JSON.stringify(extra);
  return cipher.encrypts ? JSON.stringify(cipher.seal(text, secretAad.extra(connId))) : text;
}

export function openExtra<T extends JsonRecord>(cipher: SecretCipher, connId: string, stored: unknown): T | null {
  if (stored === null || stored === undefined) return null;
  if (typeof stored === 'string') return JSON.parse(cipher.open(stored, secretAad.extra(connId), `the extra of connection '${connId}'`)) as T;
  return stored as T;
}
