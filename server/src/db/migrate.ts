import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { Db } from './client.ts';
import { queryRows } from './client.ts';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../drizzle', import.meta.url));

/** A fixed key so replicas starting together take turns: the first migrates, the rest find nothing to do. */
const MIGRATION_LOCK_KEY = 7_305_114_201;

/**
 * Applies drizzle-kit's migrations in one transaction under a Postgres advisory lock. Keeps
 * drizzle's own bookkeeping table, so `drizzle-kit migrate` and this agree on what ran.
 */
export async function migrate(db: Db, folder = MIGRATIONS_FOLDER): Promise<{ applied: number }> {
  const migrations = readMigrationFiles({ migrationsFolder: folder });
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await tx.execute(sql`create schema if not exists drizzle`);
    await tx.execute(sql`
      create table if not exists drizzle.__drizzle_migrations (
        id serial primary key, hash text not null, created_at bigint
      )`);
    const [last] = await queryRows<{ created_at: string | number | null }>(
      tx,
      sql`select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1`,
    );
    const lastApplied = last?.created_at == null ? -1 : Number(last.created_at);
    let applied = 0;
    for (const migration of migrations) {
      if (migration.folderMillis <= lastApplied) continue;
      for (const statement of migration.sql) {
        if (statement.trim()) await tx.execute(sql.raw(statement));
      }
      await tx.execute(
        sql`insert into drizzle.__drizzle_migrations (hash, created_at) values (${migration.hash}, ${migration.folderMillis})`,
      );
      applied += 1;
    }
    return { applied };
  });
}
