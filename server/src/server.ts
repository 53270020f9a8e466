import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { ConfigError } from '@dagproc/shared/config/env';
import { createLogger, type Logger } from '@dagproc/shared/log';
import { createApp } from './app.ts';
import { createAuth } from './auth/index.ts';
import type { ServerConfig } from './config.ts';
import { openDatabase, type Database } from './db/client.ts';
import { migrate } from './db/migrate.ts';
import type { ServerDeps } from './deps.ts';
import { ServerMetrics } from './metrics.ts';
import { SecretCipher } from './secrets/cipher.ts';

export interface RunningServer {
  url: string;
  deps: ServerDeps;
  close(): Promise<void>;
}

/**
 * Opens the database, applies migrations, and serves the HTTP surface. Used by
 * `pnpm start:server`, the standalone `pnpm start`, and the end-to-end tests alike.
 */
export async function startServer(
  config: ServerConfig,
  options: { logger?: Logger; database?: Database } = {},
): Promise<RunningServer> {
  const logger = options.logger ?? createLogger('server', { level: config.logLevel, format: config.logFormat });
  const auth = await createAuth(config.auth);
  const database = options.database ?? (await openDatabase(config.database));
  const { applied } = await migrateWithRetry(database, logger);
  if (applied > 0) logger.info('migrations applied', { applied, database: database.kind });

  const metrics = new ServerMetrics();
  metrics.watchDatabase(database);
  const secrets = new SecretCipher(config.secrets);
  if (!secrets.encrypts) {
    logger.warn('DAGPROC_SECRET_KEY is not set: Variable values and Connection secrets are stored in plaintext (set it, then run `pnpm dagproc secrets rotate-key` to encrypt them)');
  }
  const deps: ServerDeps = {
    database,
    secrets,
    verifier: auth.verifier,
    fileTokens: auth.signer,
    jwks: auth.jwks,
    logger,
    limits: { maxBodyBytes: config.maxBodyBytes, maxBatchCalls: config.maxBatchCalls },
    metrics,
  };
  const app = createApp(deps, config.apps);
  const server = await listen(app.fetch, config.host, config.port);
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  logger.info('server listening', { url, database: database.kind, apps: config.apps, secretKey: secrets.keys.current?.id ?? null });

  return {
    url,
    deps,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      if (!options.database) await database.close();
    },
  };
}

function listen(fetch: (req: Request) => Response | Promise<Response>, hostname: string, port: number): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port }, () => resolve(server));
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new ConfigError(`DAGPROC_PORT: ${hostname}:${port} is already in use`));
      else if (error.code === 'EADDRNOTAVAIL') reject(new ConfigError(`DAGPROC_HOST: ${hostname} is not an address of this machine`));
      else reject(error);
    });
  });
}

/**
 * Postgres may come up after the server (compose starts them together): keep trying, saying
 * so once per attempt, rather than exiting on the first refused connection.
 */
async function migrateWithRetry(database: Database, logger: Logger, maxWaitMs = 120_000) {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrate(database.db);
    } catch (error) {
      if (Date.now() - started > maxWaitMs) throw error;
      const delay = Math.min(5_000, 250 * 2 ** attempt);
      logger.warn('database not ready; retrying migrations', { attempt, retryInMs: delay, error });
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
