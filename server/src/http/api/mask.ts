import type { JsonValue } from '@dagproc/shared';
import { MASKED, type ConnectionBody, type ConnectionResponse } from '@dagproc/shared/schemas/api';
import type { ConnectionValues, StoredConnection } from '../../db/queries/api-connections.ts';

/**
 * Airflow's rule for what counts as a secret in a Connection's extra: a key that contains one
 * of these words, in any case. Such values are masked in answers like the password is.
 */
const SENSITIVE_WORDS = [
  'access_token',
  'api_key',
  'apikey',
  'authorization',
  'passphrase',
  'passwd',
  'password',
  'private_key',
  'secret',
  'token',
  'keyfile_dict',
  'service_account',
];

export function isSensitiveKey(key: string): boolean {
  const lower = key.trim().toLowerCase();
  return SENSITIVE_WORDS.some((word) => lower.includes(word));
}

type JsonRecord = Record<string, JsonValue>;

const isRecord = (v: JsonValue | undefined): v is JsonRecord => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every value under a secret-looking key, at any depth, replaced by the mask. */
export function maskExtra(extra: JsonRecord): JsonRecord {
  const masked: JsonRecord = {};
  for (const [key, value] of Object.entries(extra)) {
    if (isSensitiveKey(key) && value !== null) masked[key] = MASKED;
    else masked[key] = maskValue(value);
  }
  return masked;
}

function maskValue(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(maskValue);
  if (isRecord(value)) return maskExtra(value);
  return value;
}

/** A Connection as the API shows it: the password and secret extras masked. */
export function maskConnection(conn: StoredConnection): ConnectionResponse {
  return {
    ...conn,
    password: conn.password === null ? null : MASKED,
    extra: conn.extra === null ? null : maskExtra(conn.extra),
  };
}

/**
 * The values a PUT stores. A client that read a Connection and sends it back unchanged sends
 * the mask, not the secret: a masked value keeps what is stored, as Airflow's UI does.
 */
export function connectionValues(body: ConnectionBody, stored: StoredConnection | undefined): ConnectionValues {
  return {
    connType: body.connType,
    description: body.description ?? null,
    host: body.host ?? null,
    port: body.port ?? null,
    login: body.login ?? null,
    password: body.password === MASKED ? (stored?.password ?? null) : (body.password ?? null),
    schema: body.schema ?? null,
    extra: body.extra == null ? null : restoreMasked(body.extra, stored?.extra ?? null),
  };
}

function restoreMasked(sent: JsonRecord, stored: JsonRecord | null): JsonRecord {
  const restored: JsonRecord = {};
  for (const [key, value] of Object.entries(sent)) {
    const before = stored?.[key];
    if (value === MASKED && isSensitiveKey(key)) {
      if (before !== undefined) restored[key] = before;
    } else {
      restored[key] = restoreValue(value, before);
    }
  }
  return restored;
}

function restoreValue(sent: JsonValue, stored: JsonValue | undefined): JsonValue {
  if (isRecord(sent)) return restoreMasked(sent, isRecord(stored) ? stored : null);
  if (Array.isArray(sent)) return sent.map((item, i) => restoreValue(item, Array.isArray(stored) ? stored[i] : undefined));
  return sent;
}
