import { sql, type SQL } from 'drizzle-orm';
import type { ImportErrorResponse } from '@dagproc/shared/schemas/api';
import type { Db } from '../client.ts';
import { queryRows, toIso } from '../client.ts';
import { allOf, countOf, type Page } from './api-common.ts';

/** Import errors, newest first. */
export async function listImportErrors(
  db: Db,
  filter: { bundleName?: string | undefined },
  page: Page,
): Promise<{ importErrors: ImportErrorResponse[]; totalEntries: number }> {
  const conditions: SQL[] = [];
  if (filter.bundleName !== undefined) conditions.push(sql`ie.bundle_name = ${filter.bundleName}`);
  const where = allOf(conditions);
  const rows = await queryRows<{ id: number; bundle_name: string; filename: string; stacktrace: string; timestamp: unknown }>(
    db,
    sql`select ie.id, ie.bundle_name, ie.filename, ie.stacktrace, ie.timestamp from import_error ie
        where ${where} order by ie.timestamp desc, ie.id desc limit ${page.limit} offset ${page.offset}`,
  );
  return {
    importErrors: rows.map((r) => ({
      importErrorId: Number(r.id),
      bundleName: r.bundle_name,
      filename: r.filename,
      stackTrace: r.stacktrace,
      timestamp: toIso(r.timestamp),
    })),
    totalEntries: await countOf(db, sql`import_error ie`, where),
  };
}
