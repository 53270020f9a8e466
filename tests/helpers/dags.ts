import type { TestServer } from '@dagproc/server/testing/server';
import { rows } from '@dagproc/server/testing/sql';

/** What the e2e tests read back about a DAG, straight from the test server's database. */
export function dagQueries(server: () => TestServer) {
  const db = () => server().testDb.database.db;
  return {
    /** The DAG's `dag` row, or undefined while it has none. */
    dagRow: async (dagId: string) => (await rows(db(), 'select * from dag where dag_id = $1', [dagId]))[0],
    /** The DAG's version numbers, oldest first. */
    versions: async (dagId: string) =>
      (await rows(db(), 'select version_number from dag_version where dag_id = $1 order by 1', [dagId])).map((r) => Number(r.version_number)),
  };
}
