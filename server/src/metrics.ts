import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Registry } from '@dagproc/shared/metrics';
import type { Database } from './db/client.ts';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const TRPC_PREFIX = '/dag-processing/trpc/';

/**
 * The server's Prometheus metrics, served at `/metrics`: requests by app and route (a tRPC
 * procedure such as `jobs.heartbeat`, or the route's template such as
 * `/api/v2/dags/:dag_id` — never a raw path, so ids never become labels), their latency,
 * persist outcomes, and the database pool.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = this.registry.counter({
    name: 'dagproc_http_requests_total',
    help: 'HTTP requests answered, by app, route (tRPC procedure or route template), method and status code.',
    labelNames: ['app', 'route', 'method', 'status'],
  });
  readonly requestDuration = this.registry.histogram({
    name: 'dagproc_http_request_duration_seconds',
    help: 'Time from a request arriving to its response being ready, by app and route.',
    labelNames: ['app', 'route'],
  });
  readonly inFlight = this.registry.gauge({ name: 'dagproc_http_requests_in_flight', help: 'HTTP requests being handled now.' });
  readonly persisted = this.registry.counter({
    name: 'dagproc_persist_files_total',
    help: 'Parse results stored by parsing.persist and parsing.persistMany (each file of a batch), by outcome (applied; duplicate: already stored; superseded: an older parse than the stored one).',
    labelNames: ['outcome'],
  });
  readonly persistRetries = this.registry.counter({
    name: 'dagproc_persist_retries_total',
    help: 'parsing.persist / persistMany transactions run again after a deadlock or serialization failure.',
  });
  private readonly poolMax = this.registry.gauge({
    name: 'dagproc_db_pool_max_connections',
    help: 'Connections the database pool may open (PGlite: 1, its single in-process connection).',
    labelNames: ['database'],
  });
  private readonly poolInUse = this.registry.gauge({
    name: 'dagproc_db_pool_connections_in_use',
    help: 'Connections running a statement or holding a transaction now.',
    labelNames: ['database'],
  });
  private readonly poolWaiting = this.registry.gauge({
    name: 'dagproc_db_pool_waiting',
    help: 'Statements and transactions waiting for a connection.',
    labelNames: ['database'],
  });

  /** Reads the pool's use at each scrape. */
  watchDatabase(database: Database): void {
    this.registry.collect(() => {
      const { max, inUse, waiting } = database.pool();
      const labels = { database: database.kind };
      this.poolMax.set(labels, max);
      this.poolInUse.set(labels, inUse);
      this.poolWaiting.set(labels, waiting);
    });
  }
}

/** Counts and times every request; the first middleware, so it sees every answer (404s and 413s too). */
export function recordRequests(metrics: ServerMetrics, procedures: ReadonlySet<string>): MiddlewareHandler {
  return async function recordRequests(c, next) {
    const started = performance.now();
    metrics.inFlight.set(metrics.inFlight.get() + 1);
    try {
      await next();
    } finally {
      metrics.inFlight.set(metrics.inFlight.get() - 1);
      const status = c.res.status;
      const { app, route } = classify(c.req.path, safeRoutePath(c), status, procedures);
      const method = METHODS.has(c.req.method) ? c.req.method : 'OTHER';
      metrics.requests.inc({ app, route, method, status });
      metrics.requestDuration.observe({ app, route }, (performance.now() - started) / 1000);
    }
  };
}

function safeRoutePath(c: Parameters<MiddlewareHandler>[0]): string {
  try {
    return routePath(c, -1);
  } catch {
    return '';
  }
}

/** Which app answered, and a label for the route drawn from a fixed set. */
export function classify(path: string, template: string, status: number, procedures: ReadonlySet<string>): { app: string; route: string } {
  if (path.startsWith(TRPC_PREFIX)) {
    const name = decodeURIComponentSafe(path.slice(TRPC_PREFIX.length));
    const route = name.includes(',') ? '(batch)' : procedures.has(name) ? name : '(unknown procedure)';
    return { app: 'dag-processing', route };
  }
  const app =
    path === '/dag-processing' || path.startsWith('/dag-processing/')
      ? 'dag-processing'
      : path === '/execution' || path.startsWith('/execution/')
        ? 'execution'
        : path === '/api/v2' || path.startsWith('/api/v2/')
          ? 'api'
          : path === '/metrics' || path.startsWith('/.well-known/')
            ? 'server'
            : 'ui';
  // A wildcard that answered 404 matched no real route: the path is whatever the caller typed.
  const unmatched = !template || (template.endsWith('*') && status === 404);
  if (unmatched) return { app: app === 'ui' ? 'server' : app, route: '(unmatched)' };
  return { app, route: template };
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
