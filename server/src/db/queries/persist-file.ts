/**
 * One file's persist inside a transaction the caller holds, and the statements it is made of
 * (the batch path in persist-batch.ts reuses them).
 */
import { randomUUID } from 'node:crypto';
import { sql, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import {
  WARNING_TYPE,
  canonicalJson,
  dagHash,
  sha256Hex,
  type PersistFileOutput,
  type SerializedDag,
  type persistFileInput,
} from '@dagproc/shared';
import type { DbTx } from '../client.ts';
import { queryRows } from '../client.ts';
import { bigintArray, recordset, textArray, textList } from '../sql.ts';

export type PersistFile = z.output<typeof persistFileInput>;

export interface ParsedFileRow {
  parse_id: string | null;
  parse_started_at: Date | string;
  content_hash: string | null;
  dag_ids: string[];
  result_hash: string | null;
  dag_versions: Record<string, number> | null;
  settled: boolean;
}

export interface ExistingDag {
  dag_id: string;
  bundle_name: string;
  relative_fileloc: string;
  is_stale: boolean;
}

export interface LatestVersion {
  dag_id: string;
  id: string;
  version_number: number;
  dag_hash: string;
  source_code_hash: string | null;
}


/** DAGs in dag id order: the order every statement touches them in, so concurrent persists lock alike. */
export const byDagId = (a: SerializedDag, b: SerializedDag) => (a.dagId < b.dagId ? -1 : a.dagId > b.dagId ? 1 : 0);

/**
 * The body of a persist, inside a transaction the caller holds: a handful of statements per
 * file. `locked`: the file's parsed_file row, when the caller already created and locked it.
 */
export async function persistInTransaction(tx: DbTx, input: PersistFile, locked?: ParsedFileRow): Promise<PersistFileOutput> {
  const dags = [...input.dags].sort(byDagId);
  const previous = locked ?? (await lockParsedFile(tx, input.bundleName, input.relativeFileloc));
  if (previous.parse_id === input.parseId) {
    return { outcome: 'duplicate', dags: await currentVersions(tx, dags), rejected: [], warnings: [] };
  }
  if (previous.parse_id !== null && new Date(previous.parse_started_at) > new Date(input.parseStartedAt)) {
    // A newer parse of this file already landed; it answered the priority requests too.
    await deletePriorityRequests(tx, input);
    return { outcome: 'superseded', dags: [], rejected: [], warnings: [] };
  }

  const hashes = new Map(dags.map((d) => [d.dagId, dagHash(d)]));
  const resultHash = resultHashOf(input, dags, hashes);
  if (previous.settled && previous.content_hash === input.contentHash && previous.result_hash === resultHash) {
    const unchanged = await refreshUnchanged(tx, input, dags, previous);
    if (unchanged) return unchanged;
  }

  const { accepted, rejected, created } = await claimOwnership(tx, input, dags);
  const acceptedIds = accepted.map((d) => d.dagId);
  const acceptedSet = new Set(acceptedIds);
  const definedBefore = new Set(previous.dag_ids);
  // A DAG row this persist created has no versions yet (they go when the row goes).
  const latest = await latestVersions(
    tx,
    acceptedIds.filter((id) => !created.has(id)),
  );
  const fileUnchanged = previous.content_hash === input.contentHash;
  const sourceHash = sha256Hex(input.sourceCode);
  const parsedAt = new Date(input.parseFinishedAt);
  const hasImportError = input.importError !== null || rejected.length > 0;

  await upsertDags(
    tx,
    input,
    accepted.filter((d) => !created.has(d.dagId)),
    hasImportError,
  );

  const versions: PersistFileOutput['dags'] = [];
  const computedWarnings: PersistFileOutput['warnings'] = [];
  const newVersions: NewVersion[] = [];
  const staleCode: string[] = [];
  for (const dag of accepted) {
    const hash = hashes.get(dag.dagId)!;
    const last = latest.get(dag.dagId);
    if (last && last.dag_hash === hash) {
      if (last.source_code_hash !== sourceHash) staleCode.push(last.id);
      versions.push({ dagId: dag.dagId, versionNumber: last.version_number, newVersion: false });
      continue;
    }
    const versionNumber = (last?.version_number ?? 0) + 1;
    newVersions.push({ dag, hash, versionNumber });
    versions.push({ dagId: dag.dagId, versionNumber, newVersion: true });
    if (last && fileUnchanged && definedBefore.has(dag.dagId)) {
      computedWarnings.push({
        dagId: dag.dagId,
        warningType: WARNING_TYPE.runtimeVaryingValue,
        message:
          `DAG '${dag.dagId}' serialized differently although its file did not change, so every parse makes a ` +
          `new version (now ${versionNumber}). A value computed at parse time, such as Date.now(), new Date() or ` +
          `Math.random() in params, defaultArgs or a start date, varies between parses; compute it inside a task instead.`,
      });
    }
  }

  await insertVersions(tx, input, newVersions, sourceHash);
  await updateDagCode(tx, staleCode, input, sourceHash);

  const warnings = [
    ...input.warnings.filter((w) => acceptedSet.has(w.dagId)),
    ...computedWarnings.filter((c) => !input.warnings.some((w) => w.dagId === c.dagId && w.warningType === c.warningType)),
  ];
  const parsedFile = sql`
    update parsed_file set
      parse_id = ${input.parseId},
      parse_started_at = ${input.parseStartedAt}::timestamptz,
      parse_finished_at = ${input.parseFinishedAt}::timestamptz,
      content_hash = ${input.contentHash},
      dag_ids = ${JSON.stringify(acceptedIds)}::jsonb,
      result_hash = ${resultHash},
      dag_versions = ${JSON.stringify(Object.fromEntries(versions.map((v) => [v.dagId, v.versionNumber])))}::jsonb,
      settled = ${rejected.length === 0 && computedWarnings.length === 0}
    where bundle_name = ${input.bundleName} and relative_fileloc = ${input.relativeFileloc}`;
  // The rest of the file's rows in one statement: each part touches rows no other part does.
  await tx.execute(
    withParts([
      fileDagFlags(input, acceptedIds, hasImportError, parsedAt),
      ...warningParts(acceptedIds, warnings),
      importErrorPart(input, rejected, parsedAt),
      parsedFile,
      priorityRequestsPart(input),
    ]),
  );
  return { outcome: 'applied', dags: versions, rejected, warnings };
}

/**
 * Data-modifying statements run as the CTEs of one statement: one round trip. Postgres runs
 * each to completion on one snapshot, so no part may touch a row another part touches.
 */
export function withParts(parts: (SQL | null)[]): SQL {
  const present = parts.filter((p): p is SQL => p !== null);
  const ctes = present.map((part, i) => sql`${sql.raw(`p${i}`)} as (${part} returning 1)`);
  return sql`with ${sql.join(ctes, sql`, `)} select 1`;
}

/** What a parse produced, as far as the stored state goes; equal hashes mean equal rows. */
export function resultHashOf(input: PersistFile, dags: SerializedDag[], hashes: Map<string, string>): string {
  return sha256Hex(
    canonicalJson({
      dags: dags.map((d) => [d.dagId, hashes.get(d.dagId)]),
      importError: input.importError?.stacktrace ?? null,
      warnings: [...input.warnings].sort((a, b) => (a.dagId + a.warningType).localeCompare(b.dagId + b.warningType)),
      bundleVersion: input.bundleVersion,
    }),
  );
}

/**
 * The steady state: the file and everything it produced are as last stored, so only the parse
 * times move (they drive staleness): two statements instead of rewriting every row. If any of
 * the file's DAGs is no longer its own (or stale), the full path runs instead.
 */
export async function refreshUnchanged(
  tx: DbTx,
  input: PersistFile,
  dags: SerializedDag[],
  previous: ParsedFileRow,
): Promise<PersistFileOutput | null> {
  const ids = dags.map((d) => d.dagId);
  if (ids.length > 0) {
    const touched = await queryRows<{ dag_id: string }>(
      tx,
      sql`update dag set last_parsed_time = ${input.parseFinishedAt}::timestamptz
          where bundle_name = ${input.bundleName} and relative_fileloc = ${input.relativeFileloc}
            and dag_id = any(${textArray(ids)}) and not is_stale
          returning dag_id`,
    );
    if (touched.length !== ids.length) return null;
  }
  const parsedAt = new Date(input.parseFinishedAt);
  await tx.execute(
    withParts([
      droppedDagsStale(input, ids, parsedAt),
      input.importError
        ? sql`update import_error set timestamp = ${input.parseFinishedAt}::timestamptz
              where bundle_name = ${input.bundleName} and filename = ${input.relativeFileloc}`
        : null,
      sql`update parsed_file set
            parse_id = ${input.parseId},
            parse_started_at = ${input.parseStartedAt}::timestamptz,
            parse_finished_at = ${input.parseFinishedAt}::timestamptz
          where bundle_name = ${input.bundleName} and relative_fileloc = ${input.relativeFileloc}`,
      priorityRequestsPart(input),
    ]),
  );
  const versions = previous.dag_versions ?? {};
  return {
    outcome: 'applied',
    dags: ids.map((dagId) => ({ dagId, versionNumber: versions[dagId] ?? 0, newVersion: false })),
    rejected: [],
    warnings: [],
  };
}

/** Creates the file's parsed_file row if needed and locks it, in one statement; answers the last accepted parse. */
export async function lockParsedFile(tx: DbTx, bundleName: string, relativeFileloc: string): Promise<ParsedFileRow> {
  // The no-op update makes ON CONFLICT lock the existing row and return it as it is.
  const [row] = await queryRows<ParsedFileRow>(
    tx,
    sql`insert into parsed_file (bundle_name, relative_fileloc, parse_started_at, parse_finished_at)
        values (${bundleName}, ${relativeFileloc}, to_timestamp(0), to_timestamp(0))
        on conflict (bundle_name, relative_fileloc) do update set bundle_name = excluded.bundle_name
        returning parse_id, parse_started_at, content_hash, dag_ids, result_hash, dag_versions, settled`,
  );
  return row!;
}

export function ownersOf(dag: SerializedDag): string | null {
  const owners = new Set<string>();
  for (const task of dag.tasks) if (task.owner) owners.add(task.owner);
  return owners.size ? [...owners].sort().join(', ') : null;
}

/** The dag table's descriptive columns of each DAG, as recordset rows. */
export function dagRows(dags: SerializedDag[]) {
  return dags.map((d) => ({
    dag_id: d.dagId,
    description: d.description,
    timetable_summary: d.schedule,
    tags: d.tags,
    owners: ownersOf(d),
  }));
}
export const DAG_ROW_COLUMNS = sql`dag_id text, description text, timetable_summary text, tags jsonb, owners text`;

/**
 * DESIGN.md's ownership rule: a dag id stays with the live file that defined it first. Another
 * file takes it over only once the owner's last parse no longer defined it, or the owner is
 * gone (its DAG stale). New ids become this file's at once, inserted whole (so a first persist
 * needs no update of them); existing ones are locked. Rows are created or locked in dag-id
 * order so concurrent persists of two files sharing ids cannot deadlock.
 */
export async function claimOwnership(tx: DbTx, input: PersistFile, dags: SerializedDag[]) {
  const rejected: PersistFileOutput['rejected'] = [];
  const created = new Set<string>();
  if (dags.length === 0) return { accepted: [] as SerializedDag[], rejected, created };
  const ids = dags.map((d) => d.dagId);
  // The insert also waits out a concurrent creator. The locking select runs on the statement's
  // snapshot, so it sees neither the rows inserted here nor a row another transaction
  // committed meanwhile; the second kind is looked up again below.
  const [claimed] = await queryRows<{ created: string[]; existing: ExistingDag[] }>(
    tx,
    sql`with ins as (
          insert into dag (dag_id, bundle_name, relative_fileloc, bundle_version, last_parsed_time,
                           description, timetable_summary, tags, owners, has_import_errors)
          select r.dag_id, ${input.bundleName}, ${input.relativeFileloc}, ${input.bundleVersion},
                 ${input.parseFinishedAt}::timestamptz, r.description, r.timetable_summary, r.tags, r.owners,
                 ${input.importError !== null}
          from ${recordset(dagRows(dags), DAG_ROW_COLUMNS)}
          order by r.dag_id
          on conflict (dag_id) do nothing
          returning dag_id),
        locked as (
          select dag_id, bundle_name, relative_fileloc, is_stale from dag
          where dag_id = any(${textArray(ids)}) order by dag_id for update)
        select (select coalesce(jsonb_agg(dag_id), '[]'::jsonb) from ins) as created,
               (select coalesce(jsonb_agg(to_jsonb(locked)), '[]'::jsonb) from locked) as existing`,
  );
  for (const id of claimed!.created) created.add(id);
  let existing = claimed!.existing;
  if (created.size + existing.length < ids.length) {
    existing = await queryRows<ExistingDag>(
      tx,
      sql`select dag_id, bundle_name, relative_fileloc, is_stale from dag
          where dag_id = any(${textArray(ids.filter((id) => !created.has(id)))}) order by dag_id for update`,
    );
  }
  const elsewhere = existing.filter(
    (d) => !d.is_stale && (d.bundle_name !== input.bundleName || d.relative_fileloc !== input.relativeFileloc),
  );
  const ownerFiles = elsewhere.length
    ? await queryRows<{ bundle_name: string; relative_fileloc: string; dag_ids: string[] }>(
        tx,
        sql`select pf.bundle_name, pf.relative_fileloc, pf.dag_ids
            from parsed_file pf
            join ${recordset(
              elsewhere.map((d) => ({ b: d.bundle_name, f: d.relative_fileloc })),
              sql`b text, f text`,
            )} on pf.bundle_name = r.b and pf.relative_fileloc = r.f`,
      )
    : [];
  const stillDefined = new Set(ownerFiles.flatMap((o) => o.dag_ids.map((id) => `${o.bundle_name}\u0000${o.relative_fileloc}\u0000${id}`)));
  const owners = new Map(elsewhere.map((d) => [d.dag_id, d]));
  const accepted: SerializedDag[] = [];
  for (const dag of dags) {
    const owner = owners.get(dag.dagId);
    if (owner && stillDefined.has(`${owner.bundle_name}\u0000${owner.relative_fileloc}\u0000${owner.dag_id}`)) {
      rejected.push({ dagId: dag.dagId, ownerBundle: owner.bundle_name, ownerFileloc: owner.relative_fileloc });
    } else {
      accepted.push(dag);
    }
  }
  return { accepted, rejected, created };
}

export async function latestVersions(tx: DbTx, dagIds: string[]): Promise<Map<string, LatestVersion>> {
  if (dagIds.length === 0) return new Map();
  const rows = await queryRows<LatestVersion>(
    tx,
    sql`select distinct on (dv.dag_id) dv.dag_id, dv.id, dv.version_number, sd.dag_hash, dc.source_code_hash
        from dag_version dv
        join serialized_dag sd on sd.dag_version_id = dv.id
        left join dag_code dc on dc.dag_version_id = dv.id
        where dv.dag_id = any(${textArray(dagIds)})
        order by dv.dag_id, dv.version_number desc`,
  );
  return new Map(rows.map((r) => [r.dag_id, { ...r, version_number: Number(r.version_number) }]));
}

export async function currentVersions(tx: DbTx, dags: SerializedDag[]): Promise<PersistFileOutput['dags']> {
  const latest = await latestVersions(
    tx,
    dags.map((d) => d.dagId),
  );
  return [...latest.values()].map((v) => ({ dagId: v.dag_id, versionNumber: v.version_number, newVersion: false }));
}

/** DAG rows that existed before this persist: they follow the file (a move) and take its latest description. */
export async function upsertDags(tx: DbTx, input: PersistFile, accepted: SerializedDag[], hasImportError: boolean) {
  if (accepted.length === 0) return;
  await tx.execute(sql`
    update dag set
      bundle_name = ${input.bundleName},
      relative_fileloc = ${input.relativeFileloc},
      bundle_version = ${input.bundleVersion},
      is_stale = false,
      last_parsed_time = ${input.parseFinishedAt}::timestamptz,
      description = r.description,
      timetable_summary = r.timetable_summary,
      tags = r.tags,
      owners = r.owners,
      has_import_errors = ${hasImportError}
    from ${recordset(dagRows(accepted), DAG_ROW_COLUMNS)}
    where dag.dag_id = r.dag_id`);
}

export interface NewVersion {
  dag: SerializedDag;
  hash: string;
  versionNumber: number;
}

/**
 * One statement however many DAGs changed (a file may define thousands): the version, its
 * serialized DAG and its code are CTEs of one insert; foreign keys are checked at its end.
 */
export async function insertVersions(tx: DbTx, input: PersistFile, versions: NewVersion[], sourceHash: string) {
  if (versions.length === 0) return;
  const rows = versions.map((v) => ({
    version_id: randomUUID(),
    serialized_id: randomUUID(),
    code_id: randomUUID(),
    dag_id: v.dag.dagId,
    version_number: v.versionNumber,
    data: v.dag,
    dag_hash: v.hash,
  }));
  await tx.execute(sql`
    with r as (
      select * from ${recordset(rows, sql`version_id uuid, serialized_id uuid, code_id uuid, dag_id text, version_number int, data jsonb, dag_hash text`)}
    ),
    v as (
      insert into dag_version (id, dag_id, version_number, bundle_name, bundle_version)
      select r.version_id, r.dag_id, r.version_number, ${input.bundleName}, ${input.bundleVersion} from r
    ),
    s as (
      insert into serialized_dag (id, dag_version_id, dag_id, data, dag_hash)
      select r.serialized_id, r.version_id, r.dag_id, r.data, r.dag_hash from r
    )
    insert into dag_code (id, dag_version_id, dag_id, bundle_name, relative_fileloc, source_code, source_code_hash)
    select r.code_id, r.version_id, r.dag_id, ${input.bundleName}, ${input.relativeFileloc}, ${input.sourceCode}, ${sourceHash}
    from r`);
}

/** The file changed (a comment, say) without changing these DAGs: keep their versions, refresh their code. */
export async function updateDagCode(tx: DbTx, versionIds: string[], input: PersistFile, sourceHash: string) {
  if (versionIds.length === 0) return;
  await tx.execute(sql`
    update dag_code set source_code = ${input.sourceCode}, source_code_hash = ${sourceHash},
      bundle_name = ${input.bundleName}, relative_fileloc = ${input.relativeFileloc}, last_updated = now()
    where dag_version_id in (select (jsonb_array_elements_text(${JSON.stringify(versionIds)}::jsonb))::uuid)`);
}

/** The file's DAGs' warnings become exactly `warnings`: others deleted, these upserted (disjoint rows). */
export function warningParts(dagIds: string[], warnings: PersistFileOutput['warnings']): (SQL | null)[] {
  if (dagIds.length === 0) return [];
  const rows = warnings.map((w) => ({ dag_id: w.dagId, warning_type: w.warningType, message: w.message }));
  const kept = recordset(rows, sql`dag_id text, warning_type text, message text`);
  return [
    sql`delete from dag_warning
        where dag_id = any(${textArray(dagIds)})
          and (dag_id, warning_type) not in (select r.dag_id, r.warning_type from ${kept})`,
    rows.length === 0
      ? null
      : sql`insert into dag_warning (dag_id, warning_type, message)
            select r.dag_id, r.warning_type, r.message from ${kept}
            on conflict (dag_id, warning_type) do update set message = excluded.message, timestamp = now()`,
  ];
}

export function importErrorPart(input: PersistFile, rejected: PersistFileOutput['rejected'], at: Date): SQL {
  const parts: string[] = [];
  if (input.importError) parts.push(input.importError.stacktrace);
  for (const r of rejected) {
    const owner = r.ownerBundle === input.bundleName ? r.ownerFileloc : `${r.ownerFileloc} in bundle '${r.ownerBundle}'`;
    parts.push(`DagIdConflict: dag id '${r.dagId}' is already defined by ${owner}; this file's definition was ignored`);
  }
  if (parts.length === 0) {
    return sql`delete from import_error where bundle_name = ${input.bundleName} and filename = ${input.relativeFileloc}`;
  }
  return sql`
    insert into import_error (bundle_name, filename, stacktrace, timestamp)
    values (${input.bundleName}, ${input.relativeFileloc}, ${parts.join('\n\n')}, ${at.toISOString()}::timestamptz)
    on conflict (bundle_name, filename) do update set stacktrace = excluded.stacktrace, timestamp = excluded.timestamp`;
}

/**
 * DAGs this file defined before but not now go stale once the file is parsed more than the
 * threshold after the DAG's last parse (Airflow's rule); until then a later sweep may catch them.
 */
export function droppedCondition(input: PersistFile, acceptedIds: string[], parsedAt: Date): SQL {
  return sql`(not is_stale
      and dag_id not in ${textList(acceptedIds)}
      and last_parsed_time < ${parsedAt.toISOString()}::timestamptz - make_interval(secs => ${input.staleDagThreshold}))`;
}

export function droppedDagsStale(input: PersistFile, acceptedIds: string[], parsedAt: Date): SQL {
  return sql`update dag set is_stale = true
    where bundle_name = ${input.bundleName} and relative_fileloc = ${input.relativeFileloc}
      and ${droppedCondition(input, acceptedIds, parsedAt)}`;
}

/** The file's DAG rows in one update: the import-error flag on all of them, staleness on the dropped ones. */
export function fileDagFlags(input: PersistFile, acceptedIds: string[], hasImportError: boolean, parsedAt: Date): SQL {
  const dropped = droppedCondition(input, acceptedIds, parsedAt);
  return sql`update dag set
      has_import_errors = ${hasImportError},
      is_stale = is_stale or ${dropped}
    where bundle_name = ${input.bundleName} and relative_fileloc = ${input.relativeFileloc}
      and (has_import_errors <> ${hasImportError} or ${dropped})`;
}

export function priorityRequestsPart(input: PersistFile): SQL | null {
  if (input.priorityRequestIds.length === 0) return null;
  return sql`delete from dag_priority_parsing_request
    where id = any(${bigintArray(input.priorityRequestIds)})
      and bundle_name = ${input.bundleName} and relative_fileloc = ${input.relativeFileloc}`;
}

export async function deletePriorityRequests(tx: DbTx, input: PersistFile) {
  const part = priorityRequestsPart(input);
  if (part) await tx.execute(part);
}
