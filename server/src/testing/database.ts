import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { openDatabase, type Database } from '../db/client.ts';
import { migrate } from '../db/migrate.ts';

export interface TestDatabase {
  database: Database;
  /** The Postgres URL of this test's own database; undefined on PGlite. */
  url: string | undefined;
  /** Closes the connection and, on Postgres, drops the database. */
  drop(): Promise<void>;
}

/**
 * A fresh, migrated database for one test file: in-memory PGlite by default, or a new
 * database created next to TEST_DATABASE_URL (and dropped afterwards) when it is set.
 */
export async function openTestDatabase(): Promise<TestDatabase> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) {
    const database = await openDatabase({ memory: true });
    await migrate(database.db);
    return { database, url: undefined, drop: () => database.close() };
  }
  const name = `dagproc_t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString() });
  await migrate(database.db);
  return {
    database,
    url: url.toString(),
    async drop() {
      await database.close();
      const cleanup = postgres(base, { max: 1, onnotice: () => {} });
      try {
        await cleanup.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}
