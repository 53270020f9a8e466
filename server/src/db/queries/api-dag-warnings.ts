import { sql, type SQL } from 'drizzle-orm';
import type { DagWarningResponse } from '@dagproc/shared/schemas/api';
import type { Db } from '../client.ts';
import { queryRows, toIso } from '../client.ts';
import { allOf, countOf, type Page } from './api-common.ts';

export async function listDagWarnings(
  db: Db,
  filter: { dagId?: string | undefined; warningType?: string | undefined },
  page: Page,
): Promise<{ dagWarnings: DagWarningResponse[]; totalEntries: number }> {
  const conditions: SQL[] = [];
  if (filter.dagId !== undefined) conditions.push(sql`w.dag_id = ${filter.dagId}`);
  if (filter.warningType !== undefined) conditions.push(sql`w.warning_type = ${filter.warningType}`);
  const where = allOf(conditions);
  const rows = await queryRows<{ dag_id: string; warning_type: string; message: string; timestamp: unknown }>(
    db,
    sql`select w.dag_id, w.warning_type, w.message, w.timestamp from dag_warning w
        where ${where} order by w.dag_id collate "C", w.warning_type collate "C" limit ${page.limit} offset ${page.offset}`,
  );
  return {
    dagWarnings: rows.map((r) => ({
      dagId: r.dag_id,
      warningType: r.warning_type,
      message: r.message,
      timestamp: toIso(r.timestamp),
    })),
    totalEntries: await countOf(db, sql`dag_warning w`, where),
  };
}
