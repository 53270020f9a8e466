import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@dagproc/shared/config/env';
import { createLogger } from '@dagproc/shared/log';
import { createAuth } from '../auth/index.ts';
import { loadServerConfig } from '../config.ts';
import { startServer } from '../server.ts';
import { generateSecretKey } from '../secrets/cipher.ts';
import { renewalDelayMs, writeTokenFile } from './provision-token.ts';

const PROCESSOR_MAIN = fileURLToPath(new URL('../../../processor/src/main.ts', import.meta.url));
const TOKEN_LIFETIME_SECONDS = 24 * 3600;

/**
 * `pnpm start`: everything on one machine with nothing to set up. The server runs here on
 * embedded PGlite under DAGPROC_DATA_DIR; a signing secret is made once and kept there; the
 * processor runs as a separate process that gets only the API URL and a token file, as it
 * would in any deployment.
 */
async function main() {
  const env = { ...process.env };
  const dataDir = resolve(env.DAGPROC_DATA_DIR ?? '.dagproc');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (!env.DAGPROC_JWT_SECRET && !env.DAGPROC_JWT_PRIVATE_KEY_PATH && !env.DAGPROC_JWT_JWKS_URL) {
    env.DAGPROC_JWT_SECRET = standaloneSecret(dataDir);
  }
  if (!env.DAGPROC_SECRET_KEY) env.DAGPROC_SECRET_KEY = standaloneSecret(dataDir, 'secret-key', generateSecretKey);
  const config = loadServerConfig({ ...env, DAGPROC_DATA_DIR: dataDir });
  const logger = createLogger('standalone', { level: config.logLevel });
  const server = await startServer(config);
  const { signer } = await createAuth(config.auth);

  const tokenPath = join(dataDir, 'processor.token');
  const mintProcessorToken = async () => {
    const { token } = await signer.mintProcessorToken({ lifetimeSeconds: TOKEN_LIFETIME_SECONDS });
    await writeTokenFile(tokenPath, token);
  };
  await mintProcessorToken();
  // The minter's job in a deployment (`provision-token --watch`): the processor re-reads the file.
  const renew = setInterval(() => void mintProcessorToken().catch((error: unknown) => logger.error('token renewal failed', { error })), renewalDelayMs(TOKEN_LIFETIME_SECONDS));
  renew.unref();

  const { token: apiToken } = await signer.mintApiToken({ subject: 'admin', lifetimeSeconds: TOKEN_LIFETIME_SECONDS });
  const processor = startProcessor(env, server.url, tokenPath);
  process.stdout.write(
    `\ndagproc is running\n` +
      `  API server : ${server.url}  (PGlite data in ${config.dataDir})\n` +
      `  dashboard  : ${server.url}/#token=${apiToken}\n` +
      `  processor  : parsing ${resolve(env.DAGPROC_DAGS_FOLDER ?? 'dags')} (pid ${processor.pid})\n` +
      `Press Ctrl+C to stop.\n\n`,
  );

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    clearInterval(renew);
    if (processor.exitCode === null) {
      processor.kill('SIGTERM');
      await new Promise((r) => processor.once('exit', r));
    }
    await server.close();
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
  processor.once('exit', (code) => {
    if (!stopping) {
      logger.error('the processor exited; stopping', { code });
      void stop(code ?? 1);
    }
  });
}

/** The processor's environment: its own settings only, never the database URL or signing key. */
function startProcessor(env: NodeJS.ProcessEnv, apiUrl: string, tokenPath: string): ChildProcess {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith('DAGPROC_') && /DATABASE_URL|JWT_|SECRET_KEY|DATA_DIR/.test(key)) continue;
    childEnv[key] = value;
  }
  childEnv.DAGPROC_API_URL = apiUrl;
  childEnv.DAGPROC_API_TOKEN_PATH = tokenPath;
  return spawn(process.execPath, ['--import', 'tsx', PROCESSOR_MAIN], { env: childEnv, stdio: 'inherit' });
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

main().catch((error: unknown) => {
  process.stderr.write(`dagproc: ${error instanceof ConfigError ? error.message : error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
