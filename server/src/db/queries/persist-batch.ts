/** Several files' persists in one transaction, set-based where the files allow it. */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { dagHash, sha256Hex, type PersistFileOutput } from '@dagproc/shared';
import type { DbTx } from '../client.ts';
import { queryRows } from '../client.ts';
import { recordset } from '../sql.ts';
import {
  byDagId,
  dagRows,
  persistInTransaction,
  resultHashOf,
  withParts,
  type ParsedFileRow,
  type PersistFile,
} from './persist-file.ts';

const fileKey = (f: { bundleName: string; relativeFileloc: string }) => `${f.bundleName}\u0000${f.relativeFileloc}`;

/**
 * A batch's files inside one transaction, answering in the order given. Set-based where the
 * files allow it: every file's parsed_file row is created and locked by one statement, and
 * every unchanged file (the steady state) is refreshed by two statements for the whole batch;
 * the rest go one by one. A file sent twice in a batch goes one by one (its second parse must
 * see the first).
 */
export async function persistBatchInTransaction(tx: DbTx, files: PersistFile[]): Promise<PersistFileOutput[]> {
  const results = new Array<PersistFileOutput>(files.length);
  const seen = new Map<string, number>();
  for (const f of files) seen.set(fileKey(f), (seen.get(fileKey(f)) ?? 0) + 1);
  const locked = await lockParsedFiles(
    tx,
    files.filter((f) => seen.get(fileKey(f)) === 1),
  );
  const unchanged: UnchangedFile[] = [];
  const oneByOne: number[] = [];
  files.forEach((file, index) => {
    const previous = locked.get(fileKey(file));
    const candidate = previous && unchangedFile(file, previous);
    if (candidate) unchanged.push({ ...candidate, index });
    else oneByOne.push(index);
  });
  for (const file of await refreshUnchangedFiles(tx, unchanged)) {
    if (file.result) results[file.index] = file.result;
    else oneByOne.push(file.index);
  }
  const stored = await persistNewDagFiles(
    tx,
    oneByOne.map((index) => ({ index, input: files[index]!, previous: locked.get(fileKey(files[index]!)) })),
  );
  for (const [index, result] of stored) results[index] = result;
  const remaining = oneByOne.filter((index) => !stored.has(index)).sort((a, b) => a - b);
  for (const index of remaining) {
    results[index] = await persistInTransaction(tx, files[index]!, locked.get(fileKey(files[index]!)));
  }
  return results;
}

interface UnchangedFile {
  index: number;
  input: PersistFile;
  dagIds: string[];
  previous: ParsedFileRow;
}

/** The file and all it produced are as last stored (not a retry, not an older parse): a steady-state candidate. */
function unchangedFile(input: PersistFile, previous: ParsedFileRow): Omit<UnchangedFile, 'index'> | null {
  if (!previous.settled || previous.parse_id === null || previous.parse_id === input.parseId) return null;
  if (previous.content_hash !== input.contentHash) return null;
  if (new Date(previous.parse_started_at) > new Date(input.parseStartedAt)) return null;
  const dags = [...input.dags].sort(byDagId);
  const hashes = new Map(dags.map((d) => [d.dagId, dagHash(d)]));
  if (previous.result_hash !== resultHashOf(input, dags, hashes)) return null;
  return { input, dagIds: dags.map((d) => d.dagId), previous };
}

/**
 * The steady state for many files at once: their DAGs' parse times in one update, then their
 * dropped DAGs, import error times, parsed_file rows and answered priority requests in one
 * more. A file any of whose DAGs is no longer its own (or stale) answers no result: it takes
 * the full path.
 */
async function refreshUnchangedFiles(tx: DbTx, files: UnchangedFile[]): Promise<(UnchangedFile & { result: PersistFileOutput | null })[]> {
  if (files.length === 0) return [];
  const dagRows = files.flatMap((f) =>
    f.dagIds.map((dag_id) => ({ dag_id, b: f.input.bundleName, f: f.input.relativeFileloc, t: f.input.parseFinishedAt })),
  );
  const touched = dagRows.length
    ? await queryRows<{ b: string; f: string }>(
        tx,
        sql`update dag set last_parsed_time = r.t
            from ${recordset(dagRows, sql`dag_id text, b text, f text, t timestamptz`)}
            where dag.dag_id = r.dag_id and dag.bundle_name = r.b and dag.relative_fileloc = r.f and not dag.is_stale
            returning dag.bundle_name as b, dag.relative_fileloc as f`,
      )
    : [];
  const touchedPerFile = new Map<string, number>();
  for (const t of touched) touchedPerFile.set(fileKey({ bundleName: t.b, relativeFileloc: t.f }), (touchedPerFile.get(fileKey({ bundleName: t.b, relativeFileloc: t.f })) ?? 0) + 1);
  const done = files.filter((f) => (touchedPerFile.get(fileKey(f.input)) ?? 0) === f.dagIds.length);
  if (done.length > 0) {
    const fileRows = done.map((f) => ({
      b: f.input.bundleName,
      f: f.input.relativeFileloc,
      parse_id: f.input.parseId,
      s: f.input.parseStartedAt,
      t: f.input.parseFinishedAt,
      threshold: f.input.staleDagThreshold,
      ids: f.dagIds,
      import_error: f.input.importError !== null,
    }));
    const requests = done.flatMap((f) => f.input.priorityRequestIds.map((id) => ({ id, b: f.input.bundleName, f: f.input.relativeFileloc })));
    const r = recordset(
      fileRows,
      sql`b text, f text, parse_id uuid, s timestamptz, t timestamptz, threshold int, ids jsonb, import_error boolean`,
    );
    await tx.execute(
      withParts([
        sql`update dag set is_stale = true from ${r}
            where dag.bundle_name = r.b and dag.relative_fileloc = r.f and not dag.is_stale
              and not (r.ids ? dag.dag_id)
              and dag.last_parsed_time < r.t - make_interval(secs => r.threshold)`,
        sql`update import_error set timestamp = r.t from ${r}
            where r.import_error and import_error.bundle_name = r.b and import_error.filename = r.f`,
        sql`update parsed_file set parse_id = r.parse_id, parse_started_at = r.s, parse_finished_at = r.t from ${r}
            where parsed_file.bundle_name = r.b and parsed_file.relative_fileloc = r.f`,
        requests.length === 0
          ? null
          : sql`delete from dag_priority_parsing_request p using ${recordset(requests, sql`id bigint, b text, f text`)}
                where p.id = r.id and p.bundle_name = r.b and p.relative_fileloc = r.f`,
      ]),
    );
  }
  const doneSet = new Set(done);
  return files.map((f) => {
    if (!doneSet.has(f)) return { ...f, result: null };
    const versions = f.previous.dag_versions ?? {};
    return {
      ...f,
      result: {
        outcome: 'applied' as const,
        dags: f.dagIds.map((dagId) => ({ dagId, versionNumber: versions[dagId] ?? 0, newVersion: false })),
        rejected: [],
        warnings: [],
      },
    };
  });
}

/**
 * First persists for many files at once: files whose DAG ids are all new (no row anywhere, so
 * no owner to ask, no version to compare, every DAG version 1) are stored with three
 * statements for the whole batch: the DAG rows, their versions with serialized DAGs and code,
 * and the files' remaining rows. Any other file (a DAG id that exists, or that another file of
 * the batch defines too; a retry; an older parse; no DAGs) answers nothing here and takes the
 * one-by-one path, which finds the DAG rows inserted for it here as its own.
 */
async function persistNewDagFiles(
  tx: DbTx,
  candidates: { index: number; input: PersistFile; previous: ParsedFileRow | undefined }[],
): Promise<Map<number, PersistFileOutput>> {
  const definedBy = new Map<string, number>();
  for (const c of candidates) for (const d of c.input.dags) definedBy.set(d.dagId, (definedBy.get(d.dagId) ?? 0) + 1);
  const eligible = candidates.filter(
    (c): c is typeof c & { previous: ParsedFileRow } =>
      c.previous !== undefined &&
      c.previous.parse_id !== c.input.parseId &&
      !(c.previous.parse_id !== null && new Date(c.previous.parse_started_at) > new Date(c.input.parseStartedAt)) &&
      c.input.dags.length > 0 &&
      c.input.dags.every((d) => definedBy.get(d.dagId) === 1),
  );
  const stored = new Map<number, PersistFileOutput>();
  if (eligible.length === 0) return stored;

  const dagRowsOfAll = eligible.flatMap((c) =>
    dagRows(c.input.dags).map((row) => ({
      ...row,
      b: c.input.bundleName,
      f: c.input.relativeFileloc,
      v: c.input.bundleVersion,
      t: c.input.parseFinishedAt,
      e: c.input.importError !== null,
    })),
  );
  const [claimed] = await queryRows<{ created: string[] }>(
    tx,
    sql`with ins as (
          insert into dag (dag_id, bundle_name, relative_fileloc, bundle_version, last_parsed_time,
                           description, timetable_summary, tags, owners, has_import_errors)
          select r.dag_id, r.b, r.f, r.v, r.t, r.description, r.timetable_summary, r.tags, r.owners, r.e
          from ${recordset(dagRowsOfAll, sql`dag_id text, description text, timetable_summary text, tags jsonb, owners text, b text, f text, v text, t timestamptz, e boolean`)}
          order by r.dag_id
          on conflict (dag_id) do nothing
          returning dag_id)
        select coalesce(jsonb_agg(dag_id), '[]'::jsonb) as created from ins`,
  );
  const created = new Set(claimed!.created);
  const fresh = eligible.filter((c) => c.input.dags.every((d) => created.has(d.dagId)));
  if (fresh.length === 0) return stored;

  const files = fresh.map((c, i) => ({
    i,
    b: c.input.bundleName,
    f: c.input.relativeFileloc,
    v: c.input.bundleVersion,
    src: c.input.sourceCode,
    src_hash: sha256Hex(c.input.sourceCode),
  }));
  const filesSet = recordset(files, sql`i int, b text, f text, v text, src text, src_hash text`);
  const versionRows = fresh.flatMap((c, i) =>
    c.input.dags.map((dag) => ({
      i,
      version_id: randomUUID(),
      serialized_id: randomUUID(),
      code_id: randomUUID(),
      dag_id: dag.dagId,
      data: dag,
      dag_hash: dagHash(dag),
    })),
  );
  await tx.execute(sql`
    with r as (
      select r.*, fs.b, fs.f, fs.v, fs.src, fs.src_hash
      from ${recordset(versionRows, sql`i int, version_id uuid, serialized_id uuid, code_id uuid, dag_id text, data jsonb, dag_hash text`)}
      join (select * from ${filesSet}) fs on fs.i = r.i
    ),
    v as (
      insert into dag_version (id, dag_id, version_number, bundle_name, bundle_version)
      select r.version_id, r.dag_id, 1, r.b, r.v from r
    ),
    s as (
      insert into serialized_dag (id, dag_version_id, dag_id, data, dag_hash)
      select r.serialized_id, r.version_id, r.dag_id, r.data, r.dag_hash from r
    )
    insert into dag_code (id, dag_version_id, dag_id, bundle_name, relative_fileloc, source_code, source_code_hash)
    select r.code_id, r.version_id, r.dag_id, r.b, r.f, r.src, r.src_hash from r`);

  const hashes = versionRows.map((v) => [v.dag_id, v.dag_hash] as const);
  const hashOf = new Map(hashes);
  const fileRows = fresh.map((c) => {
    const dags = [...c.input.dags].sort(byDagId);
    const ids = dags.map((d) => d.dagId);
    return {
      b: c.input.bundleName,
      f: c.input.relativeFileloc,
      parse_id: c.input.parseId,
      s: c.input.parseStartedAt,
      t: c.input.parseFinishedAt,
      threshold: c.input.staleDagThreshold,
      ids,
      content_hash: c.input.contentHash,
      result_hash: resultHashOf(c.input, dags, new Map(ids.map((id) => [id, hashOf.get(id)!]))),
      versions: Object.fromEntries(ids.map((id) => [id, 1])),
      import_error: c.input.importError?.stacktrace ?? null,
    };
  });
  const r = recordset(
    fileRows,
    sql`b text, f text, parse_id uuid, s timestamptz, t timestamptz, threshold int, ids jsonb, content_hash text, result_hash text, versions jsonb, import_error text`,
  );
  // As the one-by-one path: a warning counts only for a DAG the file defines.
  const warningsOf = (input: PersistFile) => input.warnings.filter((w) => input.dags.some((d) => d.dagId === w.dagId));
  const warnings = fresh.flatMap((c) => warningsOf(c.input).map((w) => ({ dag_id: w.dagId, warning_type: w.warningType, message: w.message })));
  const requests = fresh.flatMap((c) => c.input.priorityRequestIds.map((id) => ({ id, b: c.input.bundleName, f: c.input.relativeFileloc })));
  await tx.execute(
    withParts([
      // DAG rows these files had before but do not define now (the new ones, all in `ids`, were
      // inserted with the right flags): the import-error flag, and staleness past the threshold.
      sql`update dag set
            has_import_errors = (r.import_error is not null),
            is_stale = dag.is_stale or (not dag.is_stale and dag.last_parsed_time < r.t - make_interval(secs => r.threshold))
          from ${r}
          where dag.bundle_name = r.b and dag.relative_fileloc = r.f and not (r.ids ? dag.dag_id)
            and (dag.has_import_errors <> (r.import_error is not null)
                 or (not dag.is_stale and dag.last_parsed_time < r.t - make_interval(secs => r.threshold)))`,
      sql`insert into import_error (bundle_name, filename, stacktrace, timestamp)
          select r.b, r.f, r.import_error, r.t from ${r} where r.import_error is not null
          on conflict (bundle_name, filename) do update set stacktrace = excluded.stacktrace, timestamp = excluded.timestamp`,
      sql`delete from import_error using ${r}
          where r.import_error is null and import_error.bundle_name = r.b and import_error.filename = r.f`,
      warnings.length === 0
        ? null
        : sql`insert into dag_warning (dag_id, warning_type, message)
              select r.dag_id, r.warning_type, r.message from ${recordset(warnings, sql`dag_id text, warning_type text, message text`)}`,
      sql`update parsed_file set
            parse_id = r.parse_id, parse_started_at = r.s, parse_finished_at = r.t, content_hash = r.content_hash,
            dag_ids = r.ids, result_hash = r.result_hash, dag_versions = r.versions, settled = true
          from ${r}
          where parsed_file.bundle_name = r.b and parsed_file.relative_fileloc = r.f`,
      requests.length === 0
        ? null
        : sql`delete from dag_priority_parsing_request p using ${recordset(requests, sql`id bigint, b text, f text`)}
              where p.id = r.id and p.bundle_name = r.b and p.relative_fileloc = r.f`,
    ]),
  );
  for (const c of fresh) {
    stored.set(c.index, {
      outcome: 'applied',
      dags: [...c.input.dags].sort(byDagId).map((d) => ({ dagId: d.dagId, versionNumber: 1, newVersion: true })),
      rejected: [],
      warnings: warningsOf(c.input).map((w) => ({ dagId: w.dagId, warningType: w.warningType, message: w.message })),
    });
  }
  return stored;
}

/** Creates the files' parsed_file rows where needed and locks them, in file order, in one statement. */
async function lockParsedFiles(tx: DbTx, files: PersistFile[]): Promise<Map<string, ParsedFileRow>> {
  if (files.length === 0) return new Map();
  const rows = await queryRows<ParsedFileRow & { bundle_name: string; relative_fileloc: string }>(
    tx,
    sql`insert into parsed_file (bundle_name, relative_fileloc, parse_started_at, parse_finished_at)
        select r.b, r.f, to_timestamp(0), to_timestamp(0)
        from ${recordset(files.map((f) => ({ b: f.bundleName, f: f.relativeFileloc })), sql`b text, f text`)}
        order by r.b, r.f
        on conflict (bundle_name, relative_fileloc) do update set bundle_name = excluded.bundle_name
        returning bundle_name, relative_fileloc, parse_id, parse_started_at, content_hash, dag_ids, result_hash, dag_versions, settled`,
  );
  return new Map(rows.map((r) => [fileKey({ bundleName: r.bundle_name, relativeFileloc: r.relative_fileloc }), r]));
}

