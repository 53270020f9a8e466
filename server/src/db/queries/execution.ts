import { eq, sql } from 'drizzle-orm';
import type { ConnectionResponse } from '@dagproc/shared';
import { openExtra, secretAad, type SecretCipher } from '../../secrets/cipher.ts';
import type { Db } from '../client.ts';
import { auditLog, connection, variable } from '../schema.ts';

/** A Variable's value, decrypted; undefined when there is none. */
export async function getVariable(db: Db, cipher: SecretCipher, key: string): Promise<string | undefined> {
  const [row] = await db.select({ val: variable.val }).from(variable).where(eq(variable.key, key));
  return row ? cipher.open(row.val, secretAad.variable(key), `variable '${key}'`) : undefined;
}

/** A Connection with its password and extra decrypted: for authorised readers only. */
export async function getConnection(db: Db, cipher: SecretCipher, connId: string): Promise<ConnectionResponse | undefined> {
  const [row] = await db.select().from(connection).where(eq(connection.connId, connId));
  if (!row) return undefined;
  return {
    connId: row.connId,
    connType: row.connType,
    host: row.host,
    port: row.port,
    login: row.login,
    password: row.password === null ? null : cipher.open(row.password, secretAad.password(connId), `the password of connection '${connId}'`),
    schema: row.schema,
    extra: openExtra(cipher, connId, row.extra),
  };
}

export interface AuditEntry {
  event: string;
  owner: string | null;
  bundleName?: string | null | undefined;
  relativeFileloc?: string | null | undefined;
  dagId?: string | null | undefined;
  extra?: Record<string, unknown> | undefined;
}

export async function recordAudit(db: Db, entry: AuditEntry): Promise<void> {
  await db.insert(auditLog).values({
    event: entry.event,
    owner: entry.owner,
    bundleName: entry.bundleName ?? null,
    relativeFileloc: entry.relativeFileloc ?? null,
    dagId: entry.dagId ?? null,
    extra: entry.extra ?? null,
    dttm: sql`now()`,
  });
}
