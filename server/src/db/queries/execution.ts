import { eq, sql } from 'drizzle-orm';
import type { ConnectionResponse } from '@dagproc/shared';
import type { Db } from '../client.ts';
import { auditLog, connection, variable } from '../schema.ts';

export async function getVariable(db: Db, key: string): Promise<string | undefined> {
  const [row] = await db.select({ val: variable.val }).from(variable).where(eq(variable.key, key));
  return row?.val;
}

export async function getConnection(db: Db, connId: string): Promise<ConnectionResponse | undefined> {
  const [row] = await db.select().from(connection).where(eq(connection.connId, connId));
  if (!row) return undefined;
  return {
    connId: row.connId,
    connType: row.connType,
    host: row.host,
    port: row.port,
    login: row.login,
    password: row.password,
    schema: row.schema,
    extra: row.extra ?? null,
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
