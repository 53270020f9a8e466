import { ConfigError } from '@dagproc/shared/config/env';
import { createLogger } from '@dagproc/shared/log';
import { TokenFileError, readTokenFile } from '@dagproc/shared/token-file';
import { createApiClient } from './api/client.ts';
import { createBundles, defaultBuilders } from './bundles/index.ts';
import { GitDagBundle } from './bundles/git.ts';
import { loadProcessorConfig } from './config.ts';
import { IsolatePool } from './isolate/index.ts';
import { DagFileProcessorManager } from './manager.ts';
import { startHealthServer } from './observability/health-server.ts';
import { ProcessorObserver } from './observability/observer.ts';

/**
 * `pnpm start:processor`: the DAG processor. It holds no database URL and no signing key:
 * only the API's address and the path of a token file a trusted step provisioned.
 */
async function main(): Promise<number> {
  const config = loadProcessorConfig(process.env, process.argv.slice(2));
  await readTokenFile(config.apiTokenPath); // a missing or malformed token file stops startup here
  const logger = createLogger('processor', { level: config.logLevel, format: config.logFormat });
  const observer = new ProcessorObserver({
    logger,
    printStatsInterval: config.printStatsInterval,
    healthCheckThreshold: config.healthCheckThreshold,
  });
  // Up first: a port in use stops startup before any parse process starts, and a probe sees
  // 503 (not a refused connection) while the processor waits for the API.
  const healthServer = config.healthPort === null ? null : await startHealthServer(observer, config.healthHost, config.healthPort);
  if (healthServer) logger.info('health endpoint listening', { url: healthServer.url, paths: ['/health', '/metrics'] });
  const client = createApiClient({ apiUrl: config.apiUrl, tokenPath: config.apiTokenPath, logger });
  const bundles = createBundles(config.bundles, {
    logger,
    builders: {
      ...defaultBuilders,
      git: (bundle, bundleLogger) =>
        new GitDagBundle({
          config: bundle,
          storagePath: config.bundleStoragePath,
          readConnection: (connId) => client.execution.connection(connId),
          logger: bundleLogger,
        }),
    },
  });
  const pool = new IsolatePool({
    mode: config.parsingMode,
    size: config.parsingProcesses,
    timeoutMs: config.fileParseTimeout * 1000,
    maxFilesPerProcess: config.isolateMaxFiles,
    memoryLimitMb: config.isolateMemoryLimitMb,
    apiUrl: config.apiUrl,
    logger,
  });
  await pool.start();
  const manager = new DagFileProcessorManager(config, client, pool, bundles, logger, observer);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn('second signal: exiting now', { signal });
      process.exit(1);
    }
    logger.info('stopping', { signal });
    manager.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Started by `pnpm start` with an IPC channel: the parent going away, even killed, stops us as
  // SIGTERM would, rather than leaving a processor parsing for a server that is gone. It may
  // have gone while this module was still loading, before anyone listened for 'disconnect'.
  if (typeof process.send === 'function') {
    if (!process.connected) onSignal('SIGTERM');
    else process.once('disconnect', () => signals === 0 && onSignal('SIGTERM'));
  }
  await manager.run();
  await healthServer?.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const expected = error instanceof ConfigError || error instanceof TokenFileError;
    process.stderr.write(`dagproc processor: ${error instanceof Error ? (expected ? error.message : error.stack) : String(error)}\n`);
    process.exit(expected ? 2 : 1);
  },
);
