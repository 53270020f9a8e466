import { loadServerConfig } from '../config.ts';
import { openDatabase } from '../db/client.ts';
import { migrate } from '../db/migrate.ts';

/** `pnpm dagproc db migrate`: applies pending migrations (the server also does on start). */
export async function dbMigrateCommand(env: Record<string, string | undefined>): Promise<number> {
  const config = loadServerConfig({ ...env, DAGPROC_JWT_SECRET: env.DAGPROC_JWT_SECRET ?? undefined });
  const database = await openDatabase(config.database);
  try {
    const { applied } = await migrate(database.db);
    process.stdout.write(applied ? `applied ${applied} migration(s) to ${database.kind}\n` : `database is up to date (${database.kind})\n`);
    return 0;
  } finally {
    await database.close();
  }
}
