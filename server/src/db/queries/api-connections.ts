import { sql } from 'drizzle-orm';
import type { JsonValue } from '@dagproc/shared';
import { openExtra, sealExtra, secretAad, type SecretCipher } from '../../secrets/cipher.ts';
import type { Db } from '../client.ts';
import { queryRows } from '../client.ts';
import { countOf, type Page } from './api-common.ts';
import { recordAudit } from './execution.ts';

/** A Connection as stored, secrets decrypted: mask it before it leaves the server. */
export interface StoredConnection {
  connId: string;
  connType: string;
  description: string | null;
  host: string | null;
  port: number | null;
  login: string | null;
  password: string | null;
  schema: string | null;
  extra: Record<string, JsonValue> | null;
}

export type ConnectionValues = Omit<StoredConnection, 'connId'>;

interface ConnectionRow {
  conn_id: string;
  conn_type: string;
  description: string | null;
  host: string | null;
  port: number | null;
  login: string | null;
  password: string | null;
  schema: string | null;
  /** An object (plaintext) or a string (an encrypted envelope). */
  extra: Record<string, JsonValue> | string | null;
}

const COLUMNS = sql`conn_id, conn_type, description, host, port, login, password, schema, extra`;

const toConnection = (cipher: SecretCipher, r: ConnectionRow): StoredConnection => ({
  connId: r.conn_id,
  connType: r.conn_type,
  description: r.description,
  host: r.host,
  port: r.port === null ? null : Number(r.port),
  login: r.login,
  password: r.password === null ? null : cipher.open(r.password, secretAad.password(r.conn_id), `the password of connection '${r.conn_id}'`),
  schema: r.schema,
  extra: openExtra<Record<string, JsonValue>>(cipher, r.conn_id, r.extra),
});

export async function listConnections(
  db: Db,
  cipher: SecretCipher,
  page: Page,
): Promise<{ connections: StoredConnection[]; totalEntries: number }> {
  const rows = await queryRows<ConnectionRow>(
    db,
    sql`select ${COLUMNS} from connection order by conn_id collate "C" limit ${page.limit} offset ${page.offset}`,
  );
  return { connections: rows.map((r) => toConnection(cipher, r)), totalEntries: await countOf(db, sql`connection`, sql`true`) };
}

export async function findConnection(db: Db, cipher: SecretCipher, connId: string): Promise<StoredConnection | undefined> {
  const [row] = await queryRows<ConnectionRow>(db, sql`select ${COLUMNS} from connection where conn_id = ${connId}`);
  return row ? toConnection(cipher, row) : undefined;
}

export type PutMode = 'upsert' | 'create' | 'update';

/**
 * Creates or replaces a Connection. `values` sees the stored one (locked, decrypted), so a
 * caller can keep secrets the client sent back masked, or change only some fields. `create`
 * answers null when the id is taken, `update` when there is none. The password and extra are
 * sealed before they reach the database; the audit row names the fields, never their values.
 */
export async function putConnection(
  db: Db,
  cipher: SecretCipher,
  connId: string,
  values: (stored: StoredConnection | undefined) => ConnectionValues,
  actor: string,
  mode: PutMode = 'upsert',
): Promise<{ created: boolean; connection: StoredConnection } | null> {
  return db.transaction(async (tx) => {
    const [storedRow] = await queryRows<ConnectionRow>(tx, sql`select ${COLUMNS} from connection where conn_id = ${connId} for update`);
    if ((mode === 'create' && storedRow) || (mode === 'update' && !storedRow)) return null;
    const v = values(storedRow ? toConnection(cipher, storedRow) : undefined);
    const password = v.password === null ? null : cipher.seal(v.password, secretAad.password(connId));
    const extra = sealExtra(cipher, connId, v.extra);
    const [row] = await queryRows<{ created: boolean }>(
      tx,
      sql`insert into connection (conn_id, conn_type, description, host, port, login, password, schema, extra)
          values (${connId}, ${v.connType}, ${v.description}, ${v.host}, ${v.port}, ${v.login}, ${password}, ${v.schema},
                  ${extra}::jsonb)
          on conflict (conn_id) do update set conn_type = excluded.conn_type, description = excluded.description,
            host = excluded.host, port = excluded.port, login = excluded.login, password = excluded.password,
            schema = excluded.schema, extra = excluded.extra
          returning (xmax = 0) as created`,
    );
    const fields = Object.entries(v).filter(([, value]) => value !== null).map(([field]) => field);
    await recordAudit(tx, { event: 'connection.put', owner: actor, extra: { connId, created: row!.created, fields } });
    return { created: row!.created, connection: { connId, ...v } };
  });
}

/** False when there was no such Connection (and nothing is recorded). */
export async function deleteConnection(db: Db, connId: string, actor: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const rows = await queryRows<{ conn_id: string }>(tx, sql`delete from connection where conn_id = ${connId} returning conn_id`);
    if (rows.length === 0) return false;
    await recordAudit(tx, { event: 'connection.delete', owner: actor, extra: { connId } });
    return true;
  });
}
