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
import { DomainError, isDatabaseUnavailable, isRetryableTransactionError } from '../../errors.ts';
import type { Db, DbTx } from '../client.ts';
import { queryRows } from '../client.ts';
import { bigintArray, recordset, textArray, textList } from '../sql.ts';
import { UnknownBundle } from './bundles.ts';

export type PersistFile = z.output<typeof persistFileInput>;

interface ParsedFileRow {
  parse_id: string | null;
  parse_started_at: Date | string;
  content_hash: string | null;
  dag_ids: string[];
  result_hash: string | null;
  dag_versions: Record<string, number> | null;
  settled: boolean;
}

interface ExistingDag {
  dag_id: string;
  bundle_name: string;
  relative_fileloc: string;
  is_stale: boolean;
}

interface LatestVersion {
  dag_id: string;
  id: string;
  version_number: number;
  dag_hash: string;
  source_code_hash: string | null;
}

export class BundleInactive extends DomainError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

/** A deadlock or serialization failure aborts a transaction; it runs again this many times in all. */
const TRANSACTION_ATTEMPTS = 3;

/**
 * Stores one file's parse in one transaction: its DAGs (a new version only when a DAG's hash
 * changed), their code, the file's import error set or cleared, its DAGs' warnings replaced,
 * the priority requests it answers deleted. Retried and out-of-order persists are safe: the
 * file's row in `parsed_file` is locked first and compared by parse id and parse start time.
 */
export async function persistFile(db: Db, input: PersistFile, hooks: PersistHooks = {}): Promise<PersistFileOutput> {
  return withRetries(hooks, () =>
    db.transaction(async (tx) => {
      const bundles = await bundleActivity(tx, [input.bundleName]);
      const refused = bundleRefusal(bundles, input.bundleName);
      if (refused) throw refused;
      return persistInTransaction(tx, input);
    }),
  );
}

/** One file of a batch: stored whole (its output), or not at all (why). */
export type PersistOutcome =
  | { ok: true; result: PersistFileOutput }
  | { ok: false; error: DomainError | unknown };

/**
 * Stores several files' parses, each whole or not at all, answering one outcome per file in
 * the order given. The batch runs in one transaction (one commit instead of one per file);
 * should any file fail in it, the transaction is rolled back and every file runs again in its
 * own transaction, so one file's failure never costs the others their results. A database
 * outage fails the whole call (nothing or only whole files stored; a retry is safe).
 */
export async function persistFiles(db: Db, files: PersistFile[], hooks: PersistHooks = {}): Promise<PersistOutcome[]> {
  const outcomes = new Array<PersistOutcome>(files.length);
  // Files in one order, whoever sends them, so two batches lock parsed_file rows in the same order.
  const order = files
    .map((_, i) => i)
    .sort((a, b) => compareFiles(files[a]!, files[b]!));
  const bundles = await bundleActivity(db, [...new Set(files.map((f) => f.bundleName))]);
  const runnable = order.filter((i) => {
    const refused = bundleRefusal(bundles, files[i]!.bundleName);
    if (refused) outcomes[i] = { ok: false, error: refused };
    return !refused;
  });
  if (runnable.length === 0) return outcomes;
  try {
    await withRetries(hooks, () =>
      db.transaction(async (tx) => {
        const results = await persistBatchInTransaction(
          tx,
          runnable.map((i) => files[i]!),
        );
        results.forEach((result, k) => (outcomes[runnable[k]!] = { ok: true, result }));
      }),
    );
    return outcomes;
  } catch (error) {
    if (isDatabaseUnavailable(error)) throw error;
  }
  for (const i of runnable) {
    try {
      outcomes[i] = { ok: true, result: await persistFile(db, files[i]!, hooks) };
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw error;
      outcomes[i] = { ok: false, error };
    }
  }
  return outcomes;
}

/** By file; two parses of one file newest first, so the older is `superseded` rather than applied and overwritten. */
function compareFiles(a: PersistFile, b: PersistFile): number {
  if (a.bundleName !== b.bundleName) return a.bundleName < b.bundleName ? -1 : 1;
  if (a.relativeFileloc !== b.relativeFileloc) return a.relativeFileloc < b.relativeFileloc ? -1 : 1;
  return Date.parse(b.parseStartedAt) - Date.parse(a.parseStartedAt);
}

/** What a caller may observe of a persist (the server's metrics count retries). */
export interface PersistHooks {
  onRetry?: () => void;
}

/** Two files sharing dag ids, persisted at once, can deadlock; Postgres aborts one and it runs again. */
async function withRetries<T>(hooks: PersistHooks, work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= TRANSACTION_ATTEMPTS || !isRetryableTransactionError(error)) throw error;
      hooks.onRetry?.();
    }
  }
}

async function bundleActivity(db: Db | DbTx, names: string[]): Promise<Map<string, boolean>> {
  const rows = await queryRows<{ name: string; active: boolean }>(
    db,
    sql`select name, active from dag_bundle where name = any(${textArray(names)})`,
  );
  return new Map(rows.map((r) => [r.name, r.active]));
}

function bundleRefusal(bundles: Map<string, boolean>, name: string): DomainError | null {
  const active = bundles.get(name);
  if (active === undefined) return new UnknownBundle(`bundle '${name}' is not registered; reconcile bundles first`);
  if (!active) return new BundleInactive(`bundle '${name}' is inactive`);
  return null;
}

const fileKey = (f: { bundleName: string; relativeFileloc: string }) => `${f.bundleName}\u0000${f.relativeFileloc}`;
const byDagId = (a: SerializedDag, b: SerializedDag) => (a.dagId < b.dagId ? -1 : a.dagId > b.dagId ? 1 : 0);

/**
 * A batch's files inside one transaction, answering in the order given. Set-based where the
 * files allow it: every file's parsed_file row is created and locked by one statement, and
 * every unchanged file (the steady state) is refreshed by two statements for the whole batch;
 * the rest go one by one. A file sent twice in a batch goes one by one (its second parse must
 * see the first).
 */
async function persistBatchInTransaction(tx: DbTx, files: PersistFile[]): Promise<PersistFileOutput[]> {
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

/**
 * The body of a persist, inside a transaction the caller holds: a handful of statements per
 * file. `locked`: the file's parsed_file row, when the caller already created and locked it.
 */
async function persistInTransaction(tx: DbTx, input: PersistFile, locked?: ParsedFileRow): Promise<PersistFileOutput> {
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
function withParts(parts: (SQL | null)[]): SQL {
  const present = parts.filter((p): p is SQL => p !== null);
  const ctes = present.map((part, i) => sql`${sql.raw(`p${i}`)} as (${part} returning 1)`);
  return sql`with ${sql.join(ctes, sql`, `)} select 1`;
}

/** What a parse produced, as far as the stored state goes; equal hashes mean equal rows. */
function resultHashOf(input: PersistFile, dags: SerializedDag[], hashes: Map<string, string>): string {
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
async function refreshUnchanged(
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
async function lockParsedFile(tx: DbTx, bundleName: string, relativeFileloc: string): Promise<ParsedFileRow> {
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

function ownersOf(dag: SerializedDag): string | null {
  const owners = new Set<string>();
  for (const task of dag.tasks) if (task.owner) owners.add(task.owner);
  return owners.size ? [...owners].sort().join(', ') : null;
}

/** The dag table's descriptive columns of each DAG, as recordset rows. */
function dagRows(dags: SerializedDag[]) {
  return dags.map((d) => ({
    dag_id: d.dagId,
    description: d.description,
    timetable_summary: d.schedule,
    tags: d.tags,
    owners: ownersOf(d),
  }));
}
const DAG_ROW_COLUMNS = sql`dag_id text, description text, timetable_summary text, tags jsonb, owners text`;

/**
 * DESIGN.md's ownership rule: a dag id stays with the live file that defined it first. Another
 * file takes it over only once the owner's last parse no longer defined it, or the owner is
 * gone (its DAG stale). New ids become this file's at once, inserted whole (so a first persist
 * needs no update of them); existing ones are locked. Rows are created or locked in dag-id
 * order so concurrent persists of two files sharing ids cannot deadlock.
 */
async function claimOwnership(tx: DbTx, input: PersistFile, dags: SerializedDag[]) {
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

async function latestVersions(tx: DbTx, dagIds: string[]): Promise<Map<string, LatestVersion>> {
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

async function currentVersions(tx: DbTx, dags: SerializedDag[]): Promise<PersistFileOutput['dags']> {
  const latest = await latestVersions(
    tx,
    dags.map((d) => d.dagId),
  );
  return [...latest.values()].map((v) => ({ dagId: v.dag_id, versionNumber: v.version_number, newVersion: false }));
}

/** DAG rows that existed before this persist: they follow the file (a move) and take its latest description. */
async function upsertDags(tx: DbTx, input: PersistFile, accepted: SerializedDag[], hasImportError: boolean) {
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

interface NewVersion {
  dag: SerializedDag;
  hash: string;
  versionNumber: number;
}

/**
 * One statement however many DAGs changed (a file may define thousands): the version, its
 * serialized DAG and its code are CTEs of one insert; foreign keys are checked at its end.
 */
async function insertVersions(tx: DbTx, input: PersistFile, versions: NewVersion[], sourceHash: string) {
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
async function updateDagCode(tx: DbTx, versionIds: string[], input: PersistFile, sourceHash: string) {
  if (versionIds.length === 0) return;
  await tx.execute(sql`
    update dag_code set source_code = ${input.sourceCode}, source_code_hash = ${sourceHash},
      bundle_name = ${input.bundleName}, relative_fileloc = ${input.relativeFileloc}, last_updated = now()
    where dag_version_id in (select (jsonb_array_elements_text(${JSON.stringify(versionIds)}::jsonb))::uuid)`);
}

/** The file's DAGs' warnings become exactly `warnings`: others deleted, these upserted (disjoint rows). */
function warningParts(dagIds: string[], warnings: PersistFileOutput['warnings']): (SQL | null)[] {
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

function importErrorPart(input: PersistFile, rejected: PersistFileOutput['rejected'], at: Date): SQL {
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
function droppedCondition(input: PersistFile, acceptedIds: string[], parsedAt: Date): SQL {
  return sql`(not is_stale
      and dag_id not in ${textList(acceptedIds)}
      and last_parsed_time < ${parsedAt.toISOString()}::timestamptz - make_interval(secs => ${input.staleDagThreshold}))`;
}

function droppedDagsStale(input: PersistFile, acceptedIds: string[], parsedAt: Date): SQL {
  return sql`update dag set is_stale = true
    where bundle_name = ${input.bundleName} and relative_fileloc = ${input.relativeFileloc}
      and ${droppedCondition(input, acceptedIds, parsedAt)}`;
}

/** The file's DAG rows in one update: the import-error flag on all of them, staleness on the dropped ones. */
function fileDagFlags(input: PersistFile, acceptedIds: string[], hasImportError: boolean, parsedAt: Date): SQL {
  const dropped = droppedCondition(input, acceptedIds, parsedAt);
  return sql`update dag set
      has_import_errors = ${hasImportError},
      is_stale = is_stale or ${dropped}
    where bundle_name = ${input.bundleName} and relative_fileloc = ${input.relativeFileloc}
      and (has_import_errors <> ${hasImportError} or ${dropped})`;
}

function priorityRequestsPart(input: PersistFile): SQL | null {
  if (input.priorityRequestIds.length === 0) return null;
  return sql`delete from dag_priority_parsing_request
    where id = any(${bigintArray(input.priorityRequestIds)})
      and bundle_name = ${input.bundleName} and relative_fileloc = ${input.relativeFileloc}`;
}

async function deletePriorityRequests(tx: DbTx, input: PersistFile) {
  const part = priorityRequestsPart(input);
  if (part) await tx.execute(part);
}
