import { Hono } from 'hono';
import { AUDIENCE, SUBJECT, connId as connIdSchema, variableKey } from '@dagproc/shared';
import { getConnection, getVariable, recordAudit } from '../db/queries/execution.ts';
import type { ServerDeps } from '../deps.ts';
import { requireBearer, type BearerEnv } from './bearer.ts';

/**
 * /execution: the parse-time reads a DAG file makes, as Airflow's Execution API. Each read is
 * recorded against the file named by the per-file token (or the processor, for its own token).
 */
export function executionApp(deps: ServerDeps): Hono<BearerEnv> {
  const app = new Hono<BearerEnv>();
  app.use('*', requireBearer(deps, AUDIENCE.execution));

  app.get('/variables/:key', async (c) => {
    const key = variableKey.safeParse(c.req.param('key'));
    if (!key.success) return c.json({ detail: `variable key: ${key.error.issues[0]!.message}` }, 400);
    const value = await getVariable(deps.database.db, key.data);
    await audit(deps, c.get('claims'), 'variable.get', { key: key.data, found: value !== undefined });
    if (value === undefined) return c.json({ detail: `variable '${key.data}' not found` }, 404);
    return c.json({ key: key.data, value });
  });

  app.get('/connections/:connId', async (c) => {
    const id = connIdSchema.safeParse(c.req.param('connId'));
    if (!id.success) return c.json({ detail: `connection id: ${id.error.issues[0]!.message}` }, 400);
    const conn = await getConnection(deps.database.db, id.data);
    await audit(deps, c.get('claims'), 'connection.get', { connId: id.data, found: conn !== undefined });
    if (!conn) return c.json({ detail: `connection '${id.data}' not found` }, 404);
    return c.json(conn);
  });

  return app;
}

function audit(deps: ServerDeps, claims: BearerEnv['Variables']['claims'], event: string, extra: Record<string, unknown>) {
  const perFile = claims.sub === SUBJECT.dagFile;
  return recordAudit(deps.database.db, {
    event,
    owner: claims.sub,
    bundleName: perFile ? claims.bundle : null,
    relativeFileloc: perFile ? claims.file : null,
    extra,
  });
}
