import { Hono, type Context } from 'hono';
import { AUDIENCE, SUBJECT, connId as connIdSchema, variableKey } from '@dagproc/shared';
import { EXECUTION_NOT_FOUND } from '@dagproc/shared/schemas/execution';
import { policyOf } from '../db/queries/access-policy.ts';
import { getConnection, getVariable, recordAudit } from '../db/queries/execution.ts';
import type { ServerDeps } from '../deps.ts';
import { deniedDetail, policyAllows, type SecretKind } from '../secrets/policy.ts';
import { requireBearer, type BearerEnv } from './bearer.ts';

type Claims = BearerEnv['Variables']['claims'];
type Outcome = 'read' | 'not_found' | 'denied';

/**
 * /execution: the parse-time reads a DAG file makes, as Airflow's Execution API. A per-file
 * token reads only what its bundle's access policy allows (403 otherwise, before the lookup,
 * so a refusal says nothing about existence). Every read, allowed or not, is recorded against
 * the file named by the per-file token (or the processor, for its own token).
 */
export function executionApp(deps: ServerDeps): Hono<BearerEnv> {
  const app = new Hono<BearerEnv>();
  app.use('*', requireBearer(deps, AUDIENCE.execution));

  app.get('/variables/:key', async (c) => {
    const key = variableKey.safeParse(c.req.param('key'));
    if (!key.success) return c.json({ detail: `variable key: ${key.error.issues[0]!.message}` }, 400);
    const refused = await refuseByPolicy(deps, c, 'variable', key.data);
    if (refused) return refused;
    const value = await getVariable(deps.database.db, deps.secrets, key.data);
    await audit(deps, c.get('claims'), 'variable', key.data, value === undefined ? 'not_found' : 'read');
    if (value === undefined) return c.json({ detail: `variable '${key.data}' not found`, reason: EXECUTION_NOT_FOUND }, 404);
    return c.json({ key: key.data, value });
  });

  app.get('/connections/:connId', async (c) => {
    const id = connIdSchema.safeParse(c.req.param('connId'));
    if (!id.success) return c.json({ detail: `connection id: ${id.error.issues[0]!.message}` }, 400);
    const refused = await refuseByPolicy(deps, c, 'connection', id.data);
    if (refused) return refused;
    const conn = await getConnection(deps.database.db, deps.secrets, id.data);
    await audit(deps, c.get('claims'), 'connection', id.data, conn ? 'read' : 'not_found');
    if (!conn) return c.json({ detail: `connection '${id.data}' not found`, reason: EXECUTION_NOT_FOUND }, 404);
    return c.json(conn);
  });

  return app;
}

/** The 403 for a per-file principal its bundle's policy does not allow, audited; else null. */
async function refuseByPolicy(deps: ServerDeps, c: Context<BearerEnv>, kind: SecretKind, id: string) {
  const claims = c.get('claims');
  // The processor's own token reads for the processor (a git bundle's credentials), not for a file.
  if (claims.sub !== SUBJECT.dagFile) return null;
  if (claims.bundle === undefined) return c.json({ detail: 'a per-file token must name its bundle' }, 403);
  if (policyAllows(await policyOf(deps.database.db, claims.bundle), kind, id)) return null;
  await audit(deps, claims, kind, id, 'denied');
  return c.json({ detail: deniedDetail(kind, id, claims.bundle) }, 403);
}

function audit(deps: ServerDeps, claims: Claims, kind: SecretKind, id: string, outcome: Outcome) {
  const perFile = claims.sub === SUBJECT.dagFile;
  return recordAudit(deps.database.db, {
    event: `${kind}.get`,
    owner: claims.sub,
    bundleName: perFile ? claims.bundle : null,
    relativeFileloc: perFile ? claims.file : null,
    extra: { [kind === 'variable' ? 'key' : 'connId']: id, outcome, found: outcome === 'read' },
  });
}
