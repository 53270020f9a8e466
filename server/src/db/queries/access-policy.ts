import { sql } from 'drizzle-orm';
import type { AccessPolicyBody, AccessPolicyResponse } from '@dagproc/shared/schemas/api';
import type { AccessPolicy } from '../../secrets/policy.ts';
import type { Db } from '../client.ts';
import { queryRows } from '../client.ts';
import { countOf, type Page } from './api-common.ts';
import { recordAudit } from './execution.ts';

interface PolicyRow {
  bundle_name: string;
  connection_ids: string[];
  variable_keys: string[];
  updated_at: Date | string;
  updated_by: string | null;
}

const COLUMNS = sql`bundle_name, connection_ids, variable_keys, updated_at, updated_by`;

const toResponse = (r: PolicyRow): AccessPolicyResponse => ({
  bundleName: r.bundle_name,
  connectionIds: r.connection_ids,
  variableKeys: r.variable_keys,
  updatedAt: new Date(r.updated_at).toISOString(),
  updatedBy: r.updated_by,
});

/** The policy the Execution API enforces for a bundle's files; undefined = unrestricted. */
export async function policyOf(db: Db, bundleName: string): Promise<AccessPolicy | undefined> {
  const [row] = await queryRows<PolicyRow>(db, sql`select ${COLUMNS} from bundle_access_policy where bundle_name = ${bundleName}`);
  return row ? { bundleName: row.bundle_name, connectionIds: row.connection_ids, variableKeys: row.variable_keys } : undefined;
}

export async function findAccessPolicy(db: Db, bundleName: string): Promise<AccessPolicyResponse | undefined> {
  const [row] = await queryRows<PolicyRow>(db, sql`select ${COLUMNS} from bundle_access_policy where bundle_name = ${bundleName}`);
  return row ? toResponse(row) : undefined;
}

export async function listAccessPolicies(db: Db, page: Page): Promise<{ accessPolicies: AccessPolicyResponse[]; totalEntries: number }> {
  const rows = await queryRows<PolicyRow>(
    db,
    sql`select ${COLUMNS} from bundle_access_policy order by bundle_name collate "C" limit ${page.limit} offset ${page.offset}`,
  );
  return { accessPolicies: rows.map(toResponse), totalEntries: await countOf(db, sql`bundle_access_policy`, sql`true`) };
}

/** Sets a bundle's policy (duplicates dropped, sorted); the audit row holds the lists, which are not secret. */
export async function putAccessPolicy(
  db: Db,
  bundleName: string,
  body: AccessPolicyBody,
  actor: string,
): Promise<{ created: boolean; policy: AccessPolicyResponse }> {
  const connectionIds = [...new Set(body.connectionIds)].sort();
  const variableKeys = [...new Set(body.variableKeys)].sort();
  return db.transaction(async (tx) => {
    const [row] = await queryRows<PolicyRow & { created: boolean }>(
      tx,
      sql`insert into bundle_access_policy (bundle_name, connection_ids, variable_keys, updated_at, updated_by)
          values (${bundleName}, ${JSON.stringify(connectionIds)}::jsonb, ${JSON.stringify(variableKeys)}::jsonb, now(), ${actor})
          on conflict (bundle_name) do update set connection_ids = excluded.connection_ids,
            variable_keys = excluded.variable_keys, updated_at = excluded.updated_at, updated_by = excluded.updated_by
          returning ${COLUMNS}, (xmax = 0) as created`,
    );
    await recordAudit(tx, { event: 'access_policy.put', owner: actor, bundleName, extra: { connectionIds, variableKeys } });
    return { created: row!.created, policy: toResponse(row!) };
  });
}

/** False when the bundle had no policy (and nothing is recorded). */
export async function deleteAccessPolicy(db: Db, bundleName: string, actor: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const rows = await queryRows<{ bundle_name: string }>(
      tx,
      sql`delete from bundle_access_policy where bundle_name = ${bundleName} returning bundle_name`,
    );
    if (rows.length === 0) return false;
    await recordAudit(tx, { event: 'access_policy.delete', owner: actor, bundleName });
    return true;
  });
}
