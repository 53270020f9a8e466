import { sql } from 'drizzle-orm';
import type { BundleResponse } from '@dagproc/shared/schemas/api';
import type { Db } from '../client.ts';
import { queryRows, toIso } from '../client.ts';
import { countOf, type Page } from './api-common.ts';

/** Bundles by name, with how many live DAGs and import errors each holds. */
export async function listBundles(db: Db, page: Page): Promise<{ bundles: BundleResponse[]; totalEntries: number }> {
  const rows = await queryRows<{
    name: string;
    kind: string;
    active: boolean;
    processor_group: string | null;
    version: string | null;
    last_refreshed: unknown;
    last_error: string | null;
    last_error_at: unknown;
    dag_count: number;
    import_error_count: number;
  }>(
    db,
    sql`select b.name, b.kind, b.active, b.processor_group, b.version, b.last_refreshed, b.last_error, b.last_error_at,
               (select count(*)::int from dag d where d.bundle_name = b.name and not d.is_stale) as dag_count,
               (select count(*)::int from import_error ie where ie.bundle_name = b.name) as import_error_count
        from dag_bundle b order by b.name collate "C" limit ${page.limit} offset ${page.offset}`,
  );
  return {
    bundles: rows.map((r) => ({
      name: r.name,
      kind: r.kind,
      active: r.active,
      processorGroup: r.processor_group,
      version: r.version,
      lastRefreshed: r.last_refreshed === null ? null : toIso(r.last_refreshed),
      lastError: r.last_error,
      lastErrorAt: r.last_error_at === null ? null : toIso(r.last_error_at),
      dagCount: Number(r.dag_count),
      importErrorCount: Number(r.import_error_count),
    })),
    totalEntries: await countOf(db, sql`dag_bundle`, sql`true`),
  };
}
