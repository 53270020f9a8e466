import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { Hono } from 'hono';
import { appRouter } from '../routers/index.ts';
import { createContext } from '../trpc.ts';
import type { ServerDeps } from '../deps.ts';

const HEALTH_TIMEOUT_MS = 2_000;

/** /dag-processing: the processor's tRPC router and the open readiness probe. */
export function dagProcessingApp(deps: ServerDeps): Hono {
  const app = new Hono();

  app.get('/health', async (c) => {
    try {
      await withTimeout(deps.database.ping(), HEALTH_TIMEOUT_MS);
      return c.json({ status: 'healthy', database: 'ok' });
    } catch {
      return c.json({ status: 'unhealthy', database: 'unreachable' }, 503);
    }
  });

  app.all('/trpc/*', (c) =>
    fetchRequestHandler({
      endpoint: '/dag-processing/trpc',
      req: c.req.raw,
      router: appRouter,
      maxBatchSize: deps.limits.maxBatchCalls,
      createContext: () => createContext(deps, c.req.raw),
    }),
  );

  return app;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
