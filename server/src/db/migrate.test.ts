import { describe, expect, it } from 'vitest';
import { openDatabase } from './client.ts';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { MIGRATIONS_FOLDER, migrate } from './migrate.ts';
import { openTestDatabase } from '../testing/database.ts';
import { rows } from '../testing/sql.ts';

describe('migrations', () => {
  it('replicas starting together migrate once: the advisory lock makes the others find nothing to do', async () => {
    const fresh = await openTestDatabase();
    try {
      // openTestDatabase migrated already; start from an empty schema again to race on a real migration.
      await rows(fresh.database.db, 'drop schema public cascade');
      await rows(fresh.database.db, 'create schema public');
      await rows(fresh.database.db, 'drop schema drizzle cascade');
      const replicas = fresh.url ? await Promise.all([1, 2, 3].map(() => openDatabase({ url: fresh.url! }))) : [fresh.database];
      try {
        const results = await Promise.all([0, 1, 2].map((i) => migrate(replicas[i % replicas.length]!.db)));
        const all = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).length;
        expect(results.map((r) => r.applied).sort()).toEqual([0, 0, all]);
        const tables = await rows(fresh.database.db, "select count(*)::int as n from information_schema.tables where table_schema = 'public'");
        expect(tables[0]!.n).toBeGreaterThanOrEqual(14);
      } finally {
        if (fresh.url) await Promise.all(replicas.map((r) => r.close()));
      }
    } finally {
      await fresh.drop();
    }
  });

  it('a second run applies nothing', async () => {
    const fresh = await openTestDatabase();
    try {
      expect(await migrate(fresh.database.db)).toEqual({ applied: 0 });
    } finally {
      await fresh.drop();
    }
  });
});
