import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { queryRows } from '../db/client.ts';
import { recordAudit } from '../db/queries/execution.ts';
import { openExtra, sealExtra, secretAad, type SecretCipher } from './cipher.ts';

export interface RotationCounts {
  /** Rows whose values were sealed under an older key and now are under the current one. */
  reencrypted: number;
  /** Rows that held plaintext and now are sealed. */
  encrypted: number;
  /** Rows already sealed under the current key: untouched. */
  unchanged: number;
}

export interface RotationReport {
  keyId: string;
  variables: RotationCounts;
  connections: RotationCounts;
}

const zero = (): RotationCounts => ({ reencrypted: 0, encrypted: 0, unchanged: 0 });

/**
 * Re-seals every Variable value and Connection password and extra under the current key, in
 * one transaction with the rows locked, so a server writing meanwhile waits rather than
 * interleaving. Running it again changes nothing (values already under the current key are
 * left alone). A value that cannot be opened (its key not given) aborts the whole run, naming
 * the row, with nothing changed.
 */
export async function rotateSecrets(db: Db, cipher: SecretCipher, actor = 'secrets rotate-key'): Promise<RotationReport> {
  const current = cipher.keys.current;
  if (!current) throw new Error('DAGPROC_SECRET_KEY is not set: there is no key to encrypt under');
  return db.transaction(async (tx) => {
    const report: RotationReport = { keyId: current.id, variables: zero(), connections: zero() };

    const variables = await queryRows<{ id: number; key: string; val: string }>(tx, sql`select id, key, val from variable order by id for update`);
    for (const row of variables) {
      if (cipher.isCurrent(row.val)) {
        report.variables.unchanged++;
        continue;
      }
      const aad = secretAad.variable(row.key);
      const sealed = cipher.seal(cipher.open(row.val, aad, `variable '${row.key}'`), aad);
      await tx.execute(sql`update variable set val = ${sealed} where id = ${row.id}`);
      report.variables[row.val.startsWith('dgp:') ? 'reencrypted' : 'encrypted']++;
    }

    const connections = await queryRows<{ id: number; conn_id: string; password: string | null; extra: Record<string, unknown> | string | null }>(
      tx,
      sql`select id, conn_id, password, extra from connection order by id for update`,
    );
    for (const row of connections) {
      const passwordCurrent = row.password === null || cipher.isCurrent(row.password);
      const extraCurrent = row.extra === null || (typeof row.extra === 'string' && cipher.isCurrent(row.extra));
      if (passwordCurrent && extraCurrent) {
        report.connections.unchanged++;
        continue;
      }
      const aad = secretAad.password(row.conn_id);
      const password = row.password === null ? null : cipher.seal(cipher.open(row.password, aad, `the password of connection '${row.conn_id}'`), aad);
      const extra = sealExtra(cipher, row.conn_id, openExtra(cipher, row.conn_id, row.extra));
      await tx.execute(sql`update connection set password = ${password}, extra = ${extra}::jsonb where id = ${row.id}`);
      const wasSealed = row.password?.startsWith('dgp:') || typeof row.extra === 'string';
      report.connections[wasSealed ? 'reencrypted' : 'encrypted']++;
    }

    await recordAudit(tx, { event: 'secrets.rotate_key', owner: actor, extra: { ...report } });
    return report;
  });
}
