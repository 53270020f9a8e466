import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadDatabaseConfig } from '../config.ts';
import { openDatabase } from '../db/client.ts';
import { migrate } from '../db/migrate.ts';
import { lockDataDir } from './data-dir-lock.ts';

/** `pnpm dagproc db migrate`: applies pending migrations (the server also does on start). */
export async function dbMigrateCommand(env: Record<string, string | undefined>): Promise<number> {
  const target = loadDatabaseConfig(env);
  const where = 'url' in target ? `PostgreSQL at ${redactUrl(target.url)}` : `PGlite in ${target.dataDir}`;
  // PGlite's files belong to one process: not while a server or `pnpm start` has them open.
  const lock = 'dataDir' in target ? lockPgliteDataDir(target.dataDir) : undefined;
  const database = await openDatabase(target).catch((error: unknown) => {
    lock?.release();
    throw error;
  });
  try {
    const { applied } = await migrate(database.db);
    process.stdout.write(applied ? `applied ${applied} migration(s) to ${where}\n` : `database is up to date (${where})\n`);
    return 0;
  } catch (error) {
    throw new Error(`migrating ${where} failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await database.close().catch(() => {});
    lock?.release();
  }
}

function lockPgliteDataDir(pgliteDir: string) {
  const dataDir = dirname(pgliteDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return lockDataDir(dataDir);
}

/** host:port/db without the password. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'the configured URL';
  }
}
