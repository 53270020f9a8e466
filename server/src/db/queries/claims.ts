import { sql } from 'drizzle-orm';
import { relativeFileloc, type CallbackRequest, type ParseRequest } from '@dagproc/shared';
import type { Db } from '../client.ts';
import { queryRows, toIso } from '../client.ts';
import { bigintArray, textArray } from '../sql.ts';

interface Claim {
  jobId: number;
  bundleNames: string[];
  limit: number;
  leaseSeconds: number;
}

/**
 * Leases the oldest unclaimed (or lapsed) priority parse requests of the given bundles to a
 * job. SKIP LOCKED lets several processors and server replicas claim at once without handing
 * a request out twice; rows stay until the file's result is persisted.
 */
export async function claimParseRequests(db: Db, claim: Claim): Promise<ParseRequest[]> {
  const rows = await queryRows<{ id: number; bundle_name: string; relative_fileloc: string; created_at: unknown }>(
    db,
    sql`update dag_priority_parsing_request set
          claimed_by_job_id = ${claim.jobId},
          lease_expires_at = now() + make_interval(secs => ${claim.leaseSeconds})
        where id in (
          select id from dag_priority_parsing_request
          where bundle_name = any(${textArray(claim.bundleNames)})
            and (lease_expires_at is null or lease_expires_at < now())
          order by created_at, id
          limit ${claim.limit}
          for update skip locked)
        returning id, bundle_name, relative_fileloc, created_at`,
  );
  return rows
    .map((r) => ({
      id: Number(r.id),
      bundleName: r.bundle_name,
      relativeFileloc: r.relative_fileloc,
      createdAt: toIso(r.created_at),
    }))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id - b.id);
}

/** Deletes requests the job holds that needed no persist (their file no longer exists, say). */
export async function completeParseRequests(db: Db, input: { jobId: number; ids: number[] }) {
  const rows = await queryRows<{ id: number }>(
    db,
    sql`delete from dag_priority_parsing_request
        where id = any(${bigintArray(input.ids)}) and claimed_by_job_id = ${input.jobId}
        returning id`,
  );
  return { deleted: rows.length };
}

/** The bundle of each request, for the token's bundle check before acting on ids. */
export async function parseRequestBundles(db: Db, ids: number[]): Promise<string[]> {
  const rows = await queryRows<{ bundle_name: string }>(
    db,
    sql`select distinct bundle_name from dag_priority_parsing_request where id = any(${bigintArray(ids)})`,
  );
  return rows.map((r) => r.bundle_name);
}

/**
 * Leases callback requests of the given bundles, highest priority first. A request inserted
 * by SQL with only a dag_id takes its bundle and file from the DAG.
 */
export async function claimCallbacks(db: Db, claim: Claim): Promise<CallbackRequest[]> {
  const rows = await queryRows<{
    id: number;
    dag_id: string;
    bundle_name: string;
    relative_fileloc: string;
    callback_type: 'failure' | 'success';
    run_id: string | null;
    msg: string | null;
    context: Record<string, unknown>;
    attempts: number;
    created_at: unknown;
  }>(
    db,
    sql`with picked as (
          select cr.id from callback_request cr
          left join dag d on d.dag_id = cr.dag_id
          where coalesce(cr.bundle_name, d.bundle_name) = any(${textArray(claim.bundleNames)})
            and coalesce(cr.relative_fileloc, d.relative_fileloc) is not null
            and (cr.lease_expires_at is null or cr.lease_expires_at < now())
          order by cr.priority_weight desc, cr.created_at, cr.id
          limit ${claim.limit}
          for update of cr skip locked
        ), claimed as (
          update callback_request cr set
            claimed_by_job_id = ${claim.jobId},
            lease_expires_at = now() + make_interval(secs => ${claim.leaseSeconds}),
            attempts = cr.attempts + 1
          from picked where cr.id = picked.id
          returning cr.*
        )
        select c.id, c.dag_id, coalesce(c.bundle_name, d.bundle_name) as bundle_name,
               coalesce(c.relative_fileloc, d.relative_fileloc) as relative_fileloc,
               c.callback_type, c.run_id, c.msg, c.context, c.attempts, c.created_at
        from claimed c left join dag d on d.dag_id = c.dag_id
        order by c.priority_weight desc, c.created_at, c.id`,
  );
  // Rows inserted by SQL are not validated on the way in: one naming a path that could leave
  // its bundle is never handed out; it is dropped, with the reason in the audit log.
  const invalid = rows.filter((r) => !relativeFileloc.safeParse(r.relative_fileloc).success);
  if (invalid.length) await dropInvalidCallbacks(db, invalid.map((r) => ({ id: Number(r.id), dagId: r.dag_id, path: r.relative_fileloc })));
  return rows.filter((r) => !invalid.includes(r)).map((r) => ({
    id: Number(r.id),
    dagId: r.dag_id,
    bundleName: r.bundle_name,
    relativeFileloc: r.relative_fileloc,
    callbackType: r.callback_type,
    runId: r.run_id,
    msg: r.msg,
    context: (r.context ?? {}) as CallbackRequest['context'],
    attempts: Number(r.attempts),
    createdAt: toIso(r.created_at),
  }));
}

async function dropInvalidCallbacks(db: Db, invalid: { id: number; dagId: string; path: string }[]) {
  for (const cb of invalid) {
    await db.transaction(async (tx) => {
      await tx.execute(sql`delete from callback_request where id = ${cb.id}`);
      await tx.execute(sql`
        insert into audit_log (event, owner, dag_id, extra)
        values ('callback.rejected', 'dagproc', ${cb.dagId},
                ${JSON.stringify({ callbackRequestId: cb.id, reason: `relative_fileloc ${JSON.stringify(cb.path)} is not a path inside a bundle` })}::jsonb)`);
    });
  }
}

export async function callbackBundle(db: Db, id: number): Promise<string | null> {
  const [row] = await queryRows<{ bundle_name: string | null }>(
    db,
    sql`select coalesce(cr.bundle_name, d.bundle_name) as bundle_name
        from callback_request cr left join dag d on d.dag_id = cr.dag_id where cr.id = ${id}`,
  );
  return row ? row.bundle_name : null;
}

/**
 * The callback ran (well or not): its row goes, and the outcome is kept in the audit log. Only
 * the job holding the lease may acknowledge; a lapsed lease taken by another job answers false.
 */
export async function ackCallback(
  db: Db,
  input: { jobId: number; id: number; outcome: 'success' | 'failed'; error?: string | undefined },
  actor: string,
): Promise<{ acknowledged: boolean }> {
  return db.transaction(async (tx) => {
    const rows = await queryRows<{ dag_id: string; bundle_name: string | null; relative_fileloc: string | null; run_id: string | null; callback_type: string }>(
      tx,
      sql`delete from callback_request where id = ${input.id} and claimed_by_job_id = ${input.jobId}
          returning dag_id, bundle_name, relative_fileloc, run_id, callback_type`,
    );
    const row = rows[0];
    if (!row) return { acknowledged: false };
    await tx.execute(sql`
      insert into audit_log (event, owner, bundle_name, relative_fileloc, dag_id, extra)
      values (${`callback.${input.outcome}`}, ${actor}, ${row.bundle_name}, ${row.relative_fileloc}, ${row.dag_id},
              ${JSON.stringify({ callbackRequestId: input.id, jobId: input.jobId, callbackType: row.callback_type, runId: row.run_id, error: input.error ?? null })}::jsonb)`);
    return { acknowledged: true };
  });
}
