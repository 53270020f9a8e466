import { createTRPCClient, httpLink } from '@trpc/client';
import { createAuth, type Auth } from '../auth/index.ts';
import { parseSecretKey, type SecretKey } from '../secrets/cipher.ts';
import type { ServerConfig } from '../config.ts';
import type { AppRouter } from '../routers/index.ts';
import { startServer, type RunningServer } from '../server.ts';
import { silentLogger, type Logger } from '@dagproc/shared/log';
import { openTestDatabase, type TestDatabase } from './database.ts';

export const TEST_JWT_SECRET = 'dagproc-test-secret-0123456789-abcdefghijklmnop';
/** 32 bytes, base64url: test servers encrypt secrets at rest, as a configured deployment does. */
export const TEST_SECRET_KEY = 'ZGFncHJvYy10ZXN0LXNlY3JldC1rZXktMzItYnl0ZXM';

export interface TestServer {
  url: string;
  testDb: TestDatabase;
  auth: Auth;
  server: RunningServer;
  /** A processor token (optionally limited to some bundles). */
  processorToken(options?: { bundles?: string[]; lifetimeSeconds?: number }): Promise<string>;
  /** A typed tRPC client for the processor's router. */
  client(token: string): ReturnType<typeof createTRPCClient<AppRouter>>;
  /** POSTs a tRPC mutation as any HTTP client would; answers status and parsed JSON. */
  mutate(path: string, input: unknown, token?: string): Promise<{ status: number; body: any }>;
  /** Stops listening, keeping the database (for outage tests); start() listens again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export function testServerConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  return {
    database: { dataDir: '/nonexistent' },
    dataDir: '/nonexistent',
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 16 * 1024 * 1024,
    maxBatchCalls: 50,
    apps: ['dag-processing', 'execution', 'api'],
    logLevel: 'error',
    auth: { secret: new TextEncoder().encode(TEST_JWT_SECRET), issuer: 'dagproc' },
    secrets: { current: parseSecretKey(TEST_SECRET_KEY) as SecretKey, previous: [] },
    ...overrides,
  };
}

/** A real server on an ephemeral loopback port, on a fresh database (PGlite, or TEST_DATABASE_URL). */
export async function startTestServer(
  options: { config?: Partial<ServerConfig>; logger?: Logger } = {},
): Promise<TestServer> {
  const testDb = await openTestDatabase();
  const config = testServerConfig(options.config);
  const auth = await createAuth(config.auth);
  const logger = options.logger ?? silentLogger;
  let server = await startServer(config, { database: testDb.database, logger });
  const port = Number(new URL(server.url).port);

  const handle: TestServer = {
    get url() {
      return server.url;
    },
    testDb,
    auth,
    get server() {
      return server;
    },
    async processorToken(opts = {}) {
      const minted = await auth.signer.mintProcessorToken({
        lifetimeSeconds: opts.lifetimeSeconds ?? 3600,
        ...(opts.bundles ? { bundles: opts.bundles } : {}),
      });
      return minted.token;
    },
    client(token) {
      return createTRPCClient<AppRouter>({
        links: [httpLink({ url: `${server.url}/dag-processing/trpc`, headers: { authorization: `Bearer ${token}` } })],
      });
    },
    async mutate(path, input, token) {
      const res = await fetch(`${server.url}/dag-processing/trpc/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: typeof input === 'string' ? input : JSON.stringify(input),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep the text
      }
      return { status: res.status, body };
    },
    async stop() {
      await server.close();
    },
    async start() {
      server = await startServer({ ...config, port }, { database: testDb.database, logger });
    },
    async close() {
      await server.close().catch(() => {});
      await testDb.drop();
    },
  };
  return handle;
}
