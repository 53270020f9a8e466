import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { queryRows } from '../db/client.ts';

/** Raw SQL for assertions in tests: `await rows(db, 'select ... where x = $1', [v])`. */
export function rows<T = Record<string, any>>(db: Db, text: string, params: unknown[] = []): Promise<T[]> {
  const chunks = text.split(/\$\d+/);
  const query = sql.join(
    chunks.flatMap((chunk, i) => (i < params.length ? [sql.raw(chunk), sql`${params[i]}`] : [sql.raw(chunk)])),
    sql.raw(''),
  );
  return queryRows<T>(db, query);
}
