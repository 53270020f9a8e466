import { sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { queryRows } from '../client.ts';
import { textArray, textList } from '../sql.ts';

/**
 * DESIGN.md's staleness rule for one bundle, given every file it holds now: a DAG is stale when
 * its file is gone, or when its file was parsed more than the threshold after the DAG's own
 * last parse without defining it. A file that is merely not due keeps its DAGs fresh. Gone
 * files also lose their parse record, so a file that comes back starts afresh.
 */
export async function sweepStaleDags(
  db: Db,
  input: { bundleName: string; files: string[]; staleDagThreshold: number },
): Promise<{ staleDagIds: string[] }> {
  return db.transaction(async (tx) => {
    const gone = await queryRows<{ dag_id: string }>(
      tx,
      sql`update dag set is_stale = true
          where bundle_name = ${input.bundleName} and not is_stale
            and relative_fileloc not in ${textList(input.files)}
          returning dag_id`,
    );
    const dropped = await queryRows<{ dag_id: string }>(
      tx,
      sql`update dag d set is_stale = true
          from parsed_file pf
          where d.bundle_name = ${input.bundleName} and not d.is_stale
            and pf.bundle_name = d.bundle_name and pf.relative_fileloc = d.relative_fileloc
            and not (pf.dag_ids ? d.dag_id)
            and d.last_parsed_time < pf.parse_finished_at - make_interval(secs => ${input.staleDagThreshold})
          returning d.dag_id`,
    );
    await tx.execute(sql`
      delete from parsed_file
      where bundle_name = ${input.bundleName} and relative_fileloc not in ${textList(input.files)}`);
    return { staleDagIds: [...gone, ...dropped].map((r) => r.dag_id).sort() };
  });
}

/** A gone file's import error goes with it. */
export async function purgeImportErrors(db: Db, input: { bundleName: string; files: string[] }) {
  const rows = await queryRows<{ id: number }>(
    db,
    sql`delete from import_error
        where bundle_name = ${input.bundleName} and filename not in ${textList(input.files)}
        returning id`,
  );
  return { deleted: rows.length };
}

/** Warnings of DAGs that went stale say nothing useful any more. */
export async function purgeInactiveWarnings(db: Db, input: { bundleNames: string[] }) {
  const rows = await queryRows<{ dag_id: string }>(
    db,
    sql`delete from dag_warning w using dag d
        where w.dag_id = d.dag_id and d.is_stale and d.bundle_name = any(${textArray(input.bundleNames)})
        returning w.dag_id`,
  );
  return { deleted: rows.length };
}
