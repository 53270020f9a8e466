/**
 * `parsing.persist` and `parsing.persistMany`: each file's parse stored whole or not at all,
 * retried on deadlocks; the statements live in persist-file.ts and persist-batch.ts.
 */
import { sql } from 'drizzle-orm';
import type { PersistFileOutput } from '@dagproc/shared';
import { DomainError, isDatabaseUnavailable, isRetryableTransactionError } from '../../errors.ts';
import type { Db, DbTx } from '../client.ts';
import { queryRows } from '../client.ts';
import { textArray } from '../sql.ts';
import { UnknownBundle } from './bundles.ts';
import { persistBatchInTransaction } from './persist-batch.ts';
import { persistInTransaction, type PersistFile } from './persist-file.ts';

export type { PersistFile } from './persist-file.ts';

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

