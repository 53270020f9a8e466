import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { ServerDeps } from './deps.ts';
import { isDatabaseUnavailable } from './errors.ts';
import { dagProcessingApp } from './http/dag-processing.ts';
import { apiApp } from './http/api/index.ts';
import { executionApp } from './http/execution.ts';
import { PROMETHEUS_CONTENT_TYPE } from '@dagproc/shared/metrics';
import { dashboardApp } from './ui/index.ts';
import { recordRequests } from './metrics.ts';
import { appRouter } from './routers/index.ts';

/** Every tRPC procedure's path (`jobs.heartbeat`): the only values the route label takes for tRPC calls. */
const PROCEDURES: ReadonlySet<string> = new Set(Object.keys(appRouter._def.procedures));
import { SecretUnavailableError } from './secrets/cipher.ts';

export type ApiAppName = 'dag-processing' | 'execution' | 'api';

/** The HTTP surface, as DESIGN.md lists it; DAGPROC_API_APPS picks which apps are mounted. */
export function createApp(deps: ServerDeps, apps: readonly ApiAppName[] = ['dag-processing', 'execution', 'api']): Hono {
  const app = new Hono();

  app.use('*', recordRequests(deps.metrics, PROCEDURES));
  app.use(
    '*',
    bodyLimit({
      maxSize: deps.limits.maxBodyBytes,
      onError: (c) =>
        c.json({ detail: `request body is larger than ${deps.limits.maxBodyBytes} bytes (DAGPROC_MAX_BODY_BYTES)` }, 413),
    }),
  );

  if (apps.includes('dag-processing')) app.route('/dag-processing', dagProcessingApp(deps));
  if (apps.includes('execution')) app.route('/execution', executionApp(deps));
  if (apps.includes('api')) app.route('/api/v2', apiApp(deps));
  if (apps.includes('api')) app.route('/', dashboardApp());

  // Open, as /dag-processing/health: Prometheus scrapes without a token, and the labels hold
  // only procedure names, route templates and status codes, never ids or request data.
  app.get('/metrics', (c) => c.body(deps.metrics.registry.expose(), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE }));

  app.get('/.well-known/jwks.json', (c) =>
    deps.jwks ? c.json(deps.jwks) : c.json({ detail: 'the signing key is symmetric: there is no public key to publish' }, 404),
  );

  app.notFound((c) => c.json({ detail: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    if (error instanceof SecretUnavailableError) {
      if (error.reason === 'refused') return c.json({ detail: error.message }, 400);
      // A configuration fault (a key not given to this server) or a damaged row: never garbage, never the value.
      deps.logger.error('cannot decrypt a stored secret', { path: c.req.path, reason: error.reason, detail: error.message });
      return c.json({ detail: error.message }, error.reason === 'key-missing' ? 503 : 500);
    }
    if (isDatabaseUnavailable(error)) {
      deps.logger.error('database unavailable', { path: c.req.path, error });
      return c.json({ detail: 'the metadata database is not reachable; retry later' }, 503);
    }
    deps.logger.error('request failed', { method: c.req.method, path: c.req.path, error });
    return c.json({ detail: 'internal server error' }, 500);
  });
  return app;
}
