import { sql } from 'drizzle-orm';
import type {
  CallbackRequestBody,
  CallbackRequestResponse,
  ParseRequestBody,
  ParseRequestResponse,
} from '@dagproc/shared/schemas/api';
import type { Db } from '../client.ts';
import { queryRows, toIso } from '../client.ts';
import { recordAudit } from './execution.ts';

export type RequestParseResult =
  | { outcome: 'created' | 'pending'; request: ParseRequestResponse }
  | { outcome: 'unknown-dag'; dagId: string }
  | { outcome: 'unknown-bundle'; bundleName: string };

interface ParseRequestRow {
  id: number | string;
  bundle_name: string;
  relative_fileloc: string;
  created_at: unknown;
}

const toParseRequest = (r: ParseRequestRow): ParseRequestResponse => ({
  id: Number(r.id),
  bundleName: r.bundle_name,
  relativeFileloc: r.relative_fileloc,
  createdAt: toIso(r.created_at),
});

/**
 * Airflow's "reparse this file": queues a priority parse request, for a file or for the file
 * that defines a DAG. A request for the same file still waiting in the queue answers for this
 * one too (its parse will read the file as it is then); one already being parsed does not,
 * since that parse may have read the file before the change that prompted this request.
 */
export async function requestParse(db: Db, target: ParseRequestBody, actor: string): Promise<RequestParseResult> {
  return db.transaction(async (tx) => {
    let file: { bundleName: string; relativeFileloc: string };
    if ('dagId' in target) {
      const [dag] = await queryRows<{ bundle_name: string; relative_fileloc: string }>(
        tx,
        sql`select bundle_name, relative_fileloc from dag where dag_id = ${target.dagId}`,
      );
      if (!dag) return { outcome: 'unknown-dag', dagId: target.dagId };
      file = { bundleName: dag.bundle_name, relativeFileloc: dag.relative_fileloc };
    } else {
      const [bundle] = await queryRows<{ name: string }>(tx, sql`select name from dag_bundle where name = ${target.bundleName}`);
      if (!bundle) return { outcome: 'unknown-bundle', bundleName: target.bundleName };
      file = target;
    }
    const [pending] = await queryRows<ParseRequestRow>(
      tx,
      sql`select id, bundle_name, relative_fileloc, created_at from dag_priority_parsing_request
          where bundle_name = ${file.bundleName} and relative_fileloc = ${file.relativeFileloc}
            and (lease_expires_at is null or lease_expires_at < now())
          order by created_at, id limit 1
          for update skip locked`,
    );
    const [row] = pending
      ? [pending]
      : await queryRows<ParseRequestRow>(
          tx,
          sql`insert into dag_priority_parsing_request (bundle_name, relative_fileloc)
              values (${file.bundleName}, ${file.relativeFileloc})
              returning id, bundle_name, relative_fileloc, created_at`,
        );
    const request = toParseRequest(row!);
    await recordAudit(tx, {
      event: 'parseRequest.create',
      owner: actor,
      bundleName: file.bundleName,
      relativeFileloc: file.relativeFileloc,
      dagId: 'dagId' in target ? target.dagId : null,
      extra: { parseRequestId: request.id, alreadyQueued: pending !== undefined },
    });
    return { outcome: pending ? 'pending' : 'created', request };
  });
}

/**
 * Queues a DAG callback for the processor to run. The bundle and file are left for the claim
 * to take from the DAG, so a DAG that moves file in between is called back from where it is.
 */
export async function requestCallback(
  db: Db,
  input: CallbackRequestBody,
  actor: string,
): Promise<CallbackRequestResponse | undefined> {
  return db.transaction(async (tx) => {
    const [dag] = await queryRows<{ bundle_name: string; relative_fileloc: string }>(
      tx,
      sql`select bundle_name, relative_fileloc from dag where dag_id = ${input.dagId}`,
    );
    if (!dag) return undefined;
    const [row] = await queryRows<{
      id: number | string;
      dag_id: string;
      callback_type: 'failure' | 'success';
      run_id: string | null;
      msg: string | null;
      context: CallbackRequestResponse['context'] | null;
      created_at: unknown;
    }>(
      tx,
      sql`insert into callback_request (dag_id, callback_type, run_id, msg, context)
          values (${input.dagId}, ${input.callbackType}, ${input.runId ?? null}, ${input.msg ?? null},
                  ${JSON.stringify(input.context ?? {})}::jsonb)
          returning id, dag_id, callback_type, run_id, msg, context, created_at`,
    );
    const created: CallbackRequestResponse = {
      id: Number(row!.id),
      dagId: row!.dag_id,
      callbackType: row!.callback_type,
      runId: row!.run_id,
      msg: row!.msg,
      context: row!.context ?? {},
      createdAt: toIso(row!.created_at),
    };
    await recordAudit(tx, {
      event: 'callbackRequest.create',
      owner: actor,
      dagId: input.dagId,
      bundleName: dag.bundle_name,
      relativeFileloc: dag.relative_fileloc,
      extra: { callbackRequestId: created.id, callbackType: created.callbackType, runId: created.runId },
    });
    return created;
  });
}

