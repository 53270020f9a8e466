import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { queryRows } from '../db/client.ts';

/** Raw SQL for assertions in tests: `await rows(db, 'select ... where x = $1 or y = $1', [v])`. */
export function rows<T = Record<string, any>>(db: Db, text: string, params: unknown[] = []): Promise<T[]> {
  const parts = text.split(/\$(\d+)/);
  const chunks = parts.map((part, i) => {
    if (i % 2 === 0) return sql.raw(part);
    const index = Number(part) - 1;
    if (!(index in params)) throw new Error(`rows(): $${part} has no parameter`);
    return sql`${params[index]}`;
  });
  return queryRows<T>(db, sql.join(chunks, sql.raw('')));
}
