import { ConfigError } from '@dagproc/shared/config/env';
import { createLogger } from '@dagproc/shared/log';
import { TokenFileError, readTokenFile } from '@dagproc/shared/token-file';
import { createApiClient } from './api/client.ts';
import { createBundles } from './bundles/index.ts';
import { loadProcessorConfig } from './config.ts';
import { IsolatePool } from './isolate/index.ts';
import { DagFileProcessorManager } from './manager.ts';

/**
 * `pnpm start:processor`: the DAG processor. It holds no database URL and no signing key:
 * only the API's address and the path of a token file a trusted step provisioned.
 */
async function main(): Promise<number> {
  const config = loadProcessorConfig(process.env, process.argv.slice(2));
  await readTokenFile(config.apiTokenPath); // a missing or malformed token file stops startup here
  const logger = createLogger('processor', { level: config.logLevel });
  const bundles = createBundles(config.bundles, { logger });
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
  const client = createApiClient({ apiUrl: config.apiUrl, tokenPath: config.apiTokenPath, logger });
  const manager = new DagFileProcessorManager(config, client, pool, bundles, logger);
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
