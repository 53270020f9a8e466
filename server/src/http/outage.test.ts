import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@dagproc/shared/log';
import { createApp } from '../app.ts';
import { createAuth } from '../auth/index.ts';
import { openDatabase, type Database } from '../db/client.ts';
import type { ServerDeps } from '../deps.ts';
import { ServerMetrics } from '../metrics.ts';
import { SecretCipher } from '../secrets/cipher.ts';
import { testServerConfig } from '../testing/server.ts';

/**
 * A real postgres.js client pointed at a port nothing listens on: every query fails as it
 * would while the database is down.
 */
let database: Database;
let deps: ServerDeps;
const logged: string[] = [];

beforeAll(async () => {
  database = await openDatabase({ url: 'postgres://postgres@127.0.0.1:9/unreachable' });
  const auth = await createAuth(testServerConfig().auth);
  deps = {
    database,
    verifier: auth.verifier,
    fileTokens: auth.signer,
    jwks: auth.jwks,
    logger: createLogger('server', { write: (line) => logged.push(line) }),
    secrets: new SecretCipher(testServerConfig().secrets),
    limits: { maxBodyBytes: 1 << 20, maxBatchCalls: 50 },
    metrics: new ServerMetrics(),
  };
});
afterAll(() => database.close());

describe('database outage', () => {
  it('the API answers 503 with a clear message and logs it, and keeps serving', async () => {
    const app = createApp(deps);
    const { token } = await (await createAuth(testServerConfig().auth)).signer.mintProcessorToken({ lifetimeSeconds: 60 });
    for (let i = 0; i < 2; i++) {
      const res = await app.request('/dag-processing/trpc/jobs.heartbeat', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ jobId: 1 }),
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as any).error.message).toContain('database is not reachable');
    }
    expect(logged.some((l) => JSON.parse(l).level === 'error' && l.includes('database unavailable'))).toBe(true);

    const execution = await app.request('/execution/variables/x', { headers: { authorization: `Bearer ${token}` } });
    expect(execution.status).toBe(503);
  });

  it('health answers 503 while the database does not answer', async () => {
    const res = await createApp(deps).request('/dag-processing/health');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'unhealthy', database: 'unreachable' });
  });
});
