import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '@dagproc/shared/config/env';
import { createLogger } from '@dagproc/shared/log';
import { createAuth } from '../auth/index.ts';
import { loadServerConfig } from '../config.ts';
import { startServer } from '../server.ts';
import { DataDirLocked, lockDataDir } from './data-dir-lock.ts';
import { generateSecretKey } from '../secrets/cipher.ts';
import { renewalDelayMs, writeTokenFile } from './provision-token.ts';

const PROCESSOR_MAIN = fileURLToPath(new URL('../../../processor/src/main.ts', import.meta.url));
/**
 * tsx's loader by absolute URL: `--import tsx` would be resolved from the working directory,
 * which need not be this checkout (`pnpm start` run elsewhere, a copy of dags/ in a temp dir).
 */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const TOKEN_LIFETIME_SECONDS = 24 * 3600;

/**
 * `pnpm start`: everything on one machine with nothing to set up. The server runs here on
 * embedded PGlite under DAGPROC_DATA_DIR; a signing secret is made once and kept there; the
 * processor runs as a separate process that gets only the API URL and a token file, as it
 * would in any deployment. This process is the trusted minter: it writes the processor's
 * token and an API token into the data directory and renews both before they expire.
 */
async function main(): Promise<number> {
  const env = { ...process.env };
  const dataDir = resolve(env.DAGPROC_DATA_DIR ?? '.dagproc');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Before anything else touches the data directory: PGlite's files belong to one process.
  const lock = lockDataDir(dataDir);
  process.once('exit', () => lock.release());

  if (!env.DAGPROC_JWT_SECRET && !env.DAGPROC_JWT_PRIVATE_KEY_PATH && !env.DAGPROC_JWT_JWKS_URL) {
    env.DAGPROC_JWT_SECRET = standaloneSecret(dataDir);
  }
  if (!env.DAGPROC_SECRET_KEY) env.DAGPROC_SECRET_KEY = standaloneSecret(dataDir, 'secret-key', generateSecretKey);
  const config = loadServerConfig({ ...env, DAGPROC_DATA_DIR: dataDir });
  const logger = createLogger('standalone', { level: config.logLevel, format: config.logFormat });
  if (lock.tookOverFrom !== undefined) logger.warn('took over the lock of a dagproc that is gone', { pid: lock.tookOverFrom, lock: lock.path });
  const server = await startServer(config);
  const { signer } = await createAuth(config.auth);

  const processorTokenPath = join(dataDir, 'processor.token');
  const apiTokenPath = join(dataDir, 'api.token');
  let dashboardToken = '';
  const mintTokens = async () => {
    const processorToken = await signer.mintProcessorToken({ lifetimeSeconds: TOKEN_LIFETIME_SECONDS });
    await writeTokenFile(processorTokenPath, processorToken.token);
    const apiToken = await signer.mintApiToken({ subject: 'admin', lifetimeSeconds: TOKEN_LIFETIME_SECONDS });
    await writeTokenFile(apiTokenPath, apiToken.token);
    dashboardToken = apiToken.token;
  };
  await mintTokens();
  // What `provision-token --watch` does in a deployment; the processor re-reads its file.
  const renew = setInterval(
    () => void mintTokens().catch((error: unknown) => logger.error('token renewal failed', { error })),
    renewalDelayMs(TOKEN_LIFETIME_SECONDS),
  );
  renew.unref();

  const processor = startProcessor(env, server.url, processorTokenPath);
  process.stdout.write(
    `\ndagproc is running\n` +
      `  API server : ${server.url}  (PGlite data in ${join(dataDir, 'pglite')})\n` +
      `  dashboard  : ${server.url}/#token=${dashboardToken}\n` +
      `  processor  : parsing ${resolve(env.DAGPROC_DAGS_FOLDER ?? 'dags')} (pid ${processor.pid})\n` +
      `  tokens     : ${processorTokenPath} (the processor's), ${apiTokenPath} (for /api/v2)\n` +
      `               renewed every ${Math.round(renewalDelayMs(TOKEN_LIFETIME_SECONDS) / 3_600_000)} h while this runs\n` +
      `Press Ctrl+C to stop.\n\n`,
  );

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = async (code: number) => {
      if (stopping) return;
      stopping = true;
      clearInterval(renew);
      let clean = processor.exitCode === 0;
      if (processor.exitCode === null && processor.signalCode === null) {
        processor.kill('SIGTERM');
        // Exit 0 is a clean stop. So is dying of this very SIGTERM: a processor still loading
        // its modules has no handler yet, and no Job to complete either.
        clean = await new Promise<boolean>((r) => processor.once('exit', (c, signal) => r(c === 0 || signal === 'SIGTERM')));
      }
      await server.close();
      resolveExit(code !== 0 ? code : clean ? 0 : 1);
    };
    // `on`, not `once`: a terminal's Ctrl+C may arrive twice (directly and relayed by tsx's CLI
    // under `pnpm start`), and a second SIGINT without a handler would kill this process mid-stop.
    const onSignal = (signal: NodeJS.Signals) => {
      if (!stopping) logger.info('stopping', { signal });
      void stop(0);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    processor.once('exit', (code, signal) => {
      if (!stopping) {
        logger.error('the processor exited; stopping', { code, signal });
        void stop(code || 1);
      }
    });
  });
}

/**
 * The processor's environment: its own settings only, never the database URL or signing key.
 * It runs in its own process group, so a terminal's Ctrl+C reaches only this process, which
 * then stops the processor with one SIGTERM (two signals would make it exit at once, without
 * completing its Job). The IPC channel is its link back: if this process dies, even by
 * SIGKILL, the processor sees the channel close and stops as on SIGTERM.
 */
function startProcessor(env: NodeJS.ProcessEnv, apiUrl: string, tokenPath: string): ChildProcess {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith('DAGPROC_') && /DATABASE_URL|JWT_|SECRET_KEY|DATA_DIR/.test(key)) continue;
    childEnv[key] = value;
  }
  childEnv.DAGPROC_API_URL = apiUrl;
  childEnv.DAGPROC_API_TOKEN_PATH = tokenPath;
  return spawn(process.execPath, ['--import', TSX_LOADER, PROCESSOR_MAIN], {
    env: childEnv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
}

/**
 * A secret made on first start and kept (mode 0600): the signing secret, so tokens survive a
 * restart, and the key Variables and Connection secrets are encrypted under.
 */
function standaloneSecret(dataDir: string, name = 'jwt-secret', make = () => randomBytes(48).toString('base64url')): string {
  const path = join(dataDir, name);
  try {
    const existing = readFileSync(path, 'utf8').trim();
    if (existing.length >= 32) return existing;
  } catch {
    // first start
  }
  const secret = make();
  writeFileSync(path, secret, { mode: 0o600 });
  return secret;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const expected = error instanceof ConfigError || error instanceof DataDirLocked;
    process.stderr.write(`dagproc: ${expected ? (error as Error).message : error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  },
);
