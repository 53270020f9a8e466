import { sql, type SQL } from 'drizzle-orm';
import type { DagResponse, DagVersionDetailResponse, DagVersionResponse } from '@dagproc/shared/schemas/api';
import type { SerializedDag } from '@dagproc/shared';
import type { Db } from '../client.ts';
import { queryRows, toIso } from '../client.ts';
import { textList } from '../sql.ts';
import { allOf, countOf, type Page } from './api-common.ts';
import { recordAudit } from './execution.ts';

export interface DagFilter {
  bundleName?: string | undefined;
  isStale?: boolean | undefined;
  /** DAGs with any of these tags. */
  tags?: readonly string[] | undefined;
  /** A case-insensitive LIKE pattern matched anywhere in the dag id. */
  dagIdPattern?: string | undefined;
}

interface DagRow {
  dag_id: string;
  bundle_name: string;
  bundle_version: string | null;
  relative_fileloc: string;
  is_stale: boolean;
  is_paused: boolean;
  last_parsed_time: unknown;
  description: string | null;
  timetable_summary: string | null;
  tags: string[] | null;
  owners: string | null;
  has_import_errors: boolean;
  latest_version_number: number | null;
}

/**
 * The file's import error is looked up live rather than read from dag.has_import_errors: that
 * column is written only when the file defines the DAG again, so a file that now fails outright
 * would otherwise still read as clean.
 */
const DAG_COLUMNS = sql`
  d.dag_id, d.bundle_name, d.bundle_version, d.relative_fileloc, d.is_stale, d.is_paused, d.last_parsed_time,
  d.description, d.timetable_summary, d.tags, d.owners,
  exists (select 1 from import_error ie where ie.bundle_name = d.bundle_name and ie.filename = d.relative_fileloc)
    as has_import_errors,
  (select max(v.version_number) from dag_version v where v.dag_id = d.dag_id) as latest_version_number`;

function toDag(r: DagRow): DagResponse {
  return {
    dagId: r.dag_id,
    bundleName: r.bundle_name,
    bundleVersion: r.bundle_version,
    relativeFileloc: r.relative_fileloc,
    isStale: r.is_stale,
    isPaused: r.is_paused,
    lastParsedTime: toIso(r.last_parsed_time),
    description: r.description,
    timetableSummary: r.timetable_summary,
    tags: r.tags ?? [],
    owners: r.owners,
    hasImportErrors: r.has_import_errors,
    latestVersionNumber: r.latest_version_number === null ? null : Number(r.latest_version_number),
  };
}

export async function listDags(db: Db, filter: DagFilter, page: Page): Promise<{ dags: DagResponse[]; totalEntries: number }> {
  const conditions: SQL[] = [];
  if (filter.bundleName !== undefined) conditions.push(sql`d.bundle_name = ${filter.bundleName}`);
  if (filter.isStale !== undefined) conditions.push(sql`d.is_stale = ${filter.isStale}`);
  if (filter.tags?.length) {
    conditions.push(sql`exists (select 1 from jsonb_array_elements_text(d.tags) t(tag) where t.tag in ${textList(filter.tags)})`);
  }
  if (filter.dagIdPattern !== undefined) conditions.push(sql`d.dag_id ilike ('%' || ${filter.dagIdPattern} || '%')`);
  const where = allOf(conditions);
  const rows = await queryRows<DagRow>(
    db,
    sql`select ${DAG_COLUMNS} from dag d where ${where} order by d.dag_id collate "C" limit ${page.limit} offset ${page.offset}`,
  );
  return { dags: rows.map(toDag), totalEntries: await countOf(db, sql`dag d`, where) };
}

export async function getDag(db: Db, dagId: string): Promise<DagResponse | undefined> {
  const [row] = await queryRows<DagRow>(db, sql`select ${DAG_COLUMNS} from dag d where d.dag_id = ${dagId}`);
  return row ? toDag(row) : undefined;
}

/** Pauses or unpauses a DAG, recording who did it; undefined when the DAG is unknown. */
export async function setDagPaused(
  db: Db,
  input: { dagId: string; isPaused: boolean },
  actor: string,
): Promise<DagResponse | undefined> {
  const updated = await db.transaction(async (tx) => {
    const [before] = await queryRows<{ is_paused: boolean; bundle_name: string; relative_fileloc: string }>(
      tx,
      sql`select is_paused, bundle_name, relative_fileloc from dag where dag_id = ${input.dagId} for update`,
    );
    if (!before) return false;
    await tx.execute(sql`update dag set is_paused = ${input.isPaused} where dag_id = ${input.dagId}`);
    await recordAudit(tx, {
      event: 'dag.patch',
      owner: actor,
      dagId: input.dagId,
      bundleName: before.bundle_name,
      relativeFileloc: before.relative_fileloc,
      extra: { isPaused: input.isPaused, wasPaused: before.is_paused },
    });
    return true;
  });
  return updated ? getDag(db, input.dagId) : undefined;
}

interface VersionRow {
  id: string;
  dag_id: string;
  version_number: number;
  bundle_name: string;
  bundle_version: string | null;
  created_at: unknown;
}

function toVersion(r: VersionRow): DagVersionResponse {
  return {
    id: r.id,
    dagId: r.dag_id,
    versionNumber: Number(r.version_number),
    bundleName: r.bundle_name,
    bundleVersion: r.bundle_version,
    createdAt: toIso(r.created_at),
  };
}

/** A DAG's versions, oldest first as Airflow lists them; undefined when the DAG is unknown. */
export async function listDagVersions(
  db: Db,
  dagId: string,
  page: Page,
): Promise<{ dagVersions: DagVersionResponse[]; totalEntries: number } | undefined> {
  const [known] = await queryRows<{ n: number }>(db, sql`select 1 as n from dag where dag_id = ${dagId}`);
  if (!known) return undefined;
  const where = sql`v.dag_id = ${dagId}`;
  const rows = await queryRows<VersionRow>(
    db,
    sql`select v.id, v.dag_id, v.version_number, v.bundle_name, v.bundle_version, v.created_at
        from dag_version v where ${where}
        order by v.version_number limit ${page.limit} offset ${page.offset}`,
  );
  return { dagVersions: rows.map(toVersion), totalEntries: await countOf(db, sql`dag_version v`, where) };
}

export async function getDagVersion(
  db: Db,
  dagId: string,
  versionNumber: number,
): Promise<DagVersionDetailResponse | undefined> {
  const [row] = await queryRows<
    VersionRow & { dag_hash: string; data: SerializedDag; relative_fileloc: string | null; source_code: string | null }
  >(
    db,
    sql`select v.id, v.dag_id, v.version_number, v.bundle_name, v.bundle_version, v.created_at,
               sd.dag_hash, sd.data, dc.relative_fileloc, dc.source_code
        from dag_version v
        join serialized_dag sd on sd.dag_version_id = v.id
        left join dag_code dc on dc.dag_version_id = v.id
        where v.dag_id = ${dagId} and v.version_number = ${versionNumber}`,
  );
  if (!row) return undefined;
  return {
    ...toVersion(row),
    dagHash: row.dag_hash,
    data: row.data,
    relativeFileloc: row.relative_fileloc,
    sourceCode: row.source_code,
  };
}
