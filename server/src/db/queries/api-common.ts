import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { queryRows } from '../client.ts';

/**
 * Airflow's paging: `limit` rows from `offset`. Collections sort names `collate "C"` (byte
 * order), so a page holds the same rows on every database whatever its locale.
 */
export interface Page {
  limit: number;
  offset: number;
}

/** `a and b and ...`, or `true` for no conditions. */
export function allOf(conditions: readonly SQL[]): SQL {
  return conditions.length ? sql.join([...conditions], sql` and `) : sql`true`;
}

/** Rows matching a filter, for a collection's totalEntries. */
export async function countOf(db: Db, from: SQL, where: SQL): Promise<number> {
  const [row] = await queryRows<{ n: number }>(db, sql`select count(*)::int as n from ${from} where ${where}`);
  return Number(row?.n ?? 0);
}
