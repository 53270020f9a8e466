import { sql } from 'drizzle-orm';
import type { VariableBody, VariableResponse } from '@dagproc/shared/schemas/api';
import type { Db } from '../client.ts';
import { queryRows } from '../client.ts';
import { secretAad, type SecretCipher } from '../../secrets/cipher.ts';
import { countOf, type Page } from './api-common.ts';
import { recordAudit } from './execution.ts';

interface VariableRow {
  key: string;
  val: string;
  description: string | null;
}

/** The row with its value decrypted: for the public API's authorised callers only. */
const toVariable = (cipher: SecretCipher, r: VariableRow): VariableResponse => ({
  key: r.key,
  value: cipher.open(r.val, secretAad.variable(r.key), `variable '${r.key}'`),
  description: r.description,
});

export async function listVariables(db: Db, cipher: SecretCipher, page: Page): Promise<{ variables: VariableResponse[]; totalEntries: number }> {
  const rows = await queryRows<VariableRow>(
    db,
    sql`select key, val, description from variable order by key collate "C" limit ${page.limit} offset ${page.offset}`,
  );
  return { variables: rows.map((r) => toVariable(cipher, r)), totalEntries: await countOf(db, sql`variable`, sql`true`) };
}

export async function findVariable(db: Db, cipher: SecretCipher, key: string): Promise<VariableResponse | undefined> {
  const [row] = await queryRows<VariableRow>(db, sql`select key, val, description from variable where key = ${key}`);
  return row ? toVariable(cipher, row) : undefined;
}

/**
 * Creates or replaces a Variable. The audit row names the key but never the value, which may
 * be a secret.
 */
export async function putVariable(
  db: Db,
  cipher: SecretCipher,
  key: string,
  body: VariableBody,
  actor: string,
): Promise<{ created: boolean; variable: VariableResponse }> {
  return db.transaction(async (tx) => {
    const [row] = await queryRows<VariableRow & { created: boolean }>(
      tx,
      // xmax is 0 only on a freshly inserted row: it tells an insert from an update in one statement.
      sql`insert into variable (key, val, description)
          values (${key}, ${cipher.seal(body.value, secretAad.variable(key))}, ${body.description ?? null})
          on conflict (key) do update set val = excluded.val, description = excluded.description
          returning key, val, description, (xmax = 0) as created`,
    );
    await recordAudit(tx, { event: 'variable.put', owner: actor, extra: { key, created: row!.created } });
    return { created: row!.created, variable: { key, value: body.value, description: row!.description } };
  });
}

/** False when there was no such Variable (and nothing is recorded). */
export async function deleteVariable(db: Db, key: string, actor: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const rows = await queryRows<{ key: string }>(tx, sql`delete from variable where key = ${key} returning key`);
    if (rows.length === 0) return false;
    await recordAudit(tx, { event: 'variable.delete', owner: actor, extra: { key } });
    return true;
  });
}
