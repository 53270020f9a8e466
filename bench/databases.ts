import { openDatabase } from '../server/src/db/client.ts';
import { rows } from '../server/src/testing/sql.ts';
import { BenchError } from './measure.ts';

/** The two metadata databases the server runs on. */

export type DatabaseTarget = { kind: 'pglite'; label: 'PGlite' } | { kind: 'postgres'; label: 'Postgres'; url: string };

export const PGLITE: DatabaseTarget = { kind: 'pglite', label: 'PGlite' };

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export function postgresTarget(url: string): DatabaseTarget {
  return { kind: 'postgres', label: 'Postgres', url };
}

/** The URL without its password, for printing. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

/** Connects once to the server at `url`; answers its version, or fails saying how to go on without it. */
export async function probePostgres(url: string): Promise<string> {
  let database;
  try {
    database = await openDatabase({ url });
    const [row] = await rows<{ server_version: string }>(database.db, 'show server_version');
    return `PostgreSQL ${row!.server_version}`;
  } catch (error) {
    throw new BenchError(
      `Postgres at ${redactUrl(url)} did not answer (${rootMessage(error)}); ` +
        'start it, point TEST_DATABASE_URL at one, or pass --no-postgres',
      { cause: error },
    );
  } finally {
    await database?.close().catch(() => {});
  }
}

/** drizzle wraps the driver's error ("Failed query: ..."); the innermost cause says what went wrong. */
function rootMessage(error: unknown): string {
  let inner = error;
  while (inner instanceof Error && inner.cause !== undefined) inner = inner.cause;
  return inner instanceof Error ? inner.message : String(inner);
}
