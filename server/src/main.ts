import { mkdirSync } from 'node:fs';
import { ConfigError } from '@dagproc/shared/config/env';
import { lockDataDir } from './cli/data-dir-lock.ts';
import { loadServerConfig } from './config.ts';
import { startServer } from './server.ts';

/** `pnpm start:server`: the API server alone, migrations applied on start. */
async function main() {
  const config = loadServerConfig(process.env);
  if ('dataDir' in config.database) {
    // PGlite's files belong to one process: not while `pnpm start` or another server has them.
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const lock = lockDataDir(config.dataDir);
    process.once('exit', () => lock.release());
  }
  const server = await startServer(config);
  const stop = async () => {
    await server.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`dagproc server: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`dagproc server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
