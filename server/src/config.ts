import { resolve } from 'node:path';
import { z } from 'zod';
import { logFormat, parseEnv, positiveInt } from '@dagproc/shared/config/env';
import type { LogFormat, LogLevel } from '@dagproc/shared/log';
import type { ApiAppName } from './app.ts';
import { authConfigFromEnv, authEnv, redactSecret, type AuthConfig } from './auth/index.ts';
import { secretKeyEnv, type SecretKeys } from './secrets/cipher.ts';

const APP_NAMES = ['dag-processing', 'execution', 'api'] as const;

const databaseEnv = {
  DAGPROC_DATABASE_URL: z
    .string()
    .optional()
    .refine((v) => v === undefined || /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL'),
  DAGPROC_DATA_DIR: z.string().optional().default('.dagproc'),
};

const serverEnv = z.object({
  ...databaseEnv,
  DAGPROC_HOST: z.string().optional().default('127.0.0.1'),
  DAGPROC_PORT: z
    .string()
    .optional()
    .default('8080')
    .refine((v) => /^\d+$/.test(v) && Number(v) <= 65_535, 'must be a port number from 0 to 65535')
    .transform(Number),
  DAGPROC_MAX_BODY_BYTES: positiveInt(16 * 1024 * 1024),
  DAGPROC_MAX_BATCH_CALLS: positiveInt(50, 10_000),
  DAGPROC_API_APPS: z
    .string()
    .optional()
    .default(APP_NAMES.join(','))
    .transform((raw, ctx) => {
      const names = [...new Set(raw.split(',').map((s) => s.trim()).filter(Boolean))];
      const unknown = names.find((n) => !(APP_NAMES as readonly string[]).includes(n));
      if (unknown !== undefined || names.length === 0) {
        const what = unknown === undefined ? 'names no app' : `unknown app ${JSON.stringify(unknown)}`;
        ctx.addIssue({ code: 'custom', message: `${what}; must be a comma-separated list of ${APP_NAMES.join(', ')}` });
        return z.NEVER;
      }
      return names as ApiAppName[];
    }),
  DAGPROC_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).optional().default('info'),
  DAGPROC_LOG_FORMAT: logFormat(),
  ...authEnv,
  ...secretKeyEnv,
});

export interface ServerConfig {
  /** Where metadata lives: Postgres when a URL is set, else PGlite files under dataDir. */
  database: { url: string } | { dataDir: string };
  dataDir: string;
  host: string;
  port: number;
  maxBodyBytes: number;
  maxBatchCalls: number;
  apps: ApiAppName[];
  logLevel: LogLevel;
  /** Unset: pretty on a terminal, JSON lines elsewhere. */
  logFormat?: LogFormat | undefined;
  auth: AuthConfig;
  /** Seals Variable values and Connection secrets at rest; no current key = plaintext. */
  secrets: SecretKeys;
}

export type DatabaseConfig = ServerConfig['database'];

/** Only the database settings, for commands like `db migrate` that need nothing else. */
export function loadDatabaseConfig(env: Record<string, string | undefined>): DatabaseConfig {
  const parsed = parseEnv(z.object(databaseEnv), env);
  return parsed.DAGPROC_DATABASE_URL
    ? { url: parsed.DAGPROC_DATABASE_URL }
    : { dataDir: resolve(parsed.DAGPROC_DATA_DIR, 'pglite') };
}

/** The database and secret-key settings, for `secrets rotate-key`. */
export function loadSecretsConfig(env: Record<string, string | undefined>): { database: DatabaseConfig; secrets: SecretKeys } {
  const parsed = parseEnv(z.object(secretKeyEnv), env);
  return {
    database: loadDatabaseConfig(env),
    secrets: { current: parsed.DAGPROC_SECRET_KEY, previous: parsed.DAGPROC_SECRET_KEY_PREVIOUS },
  };
}

/** Parses the server's environment once at start; a bad value throws a ConfigError naming it. */
export function loadServerConfig(env: Record<string, string | undefined>): ServerConfig {
  let parsed: z.infer<typeof serverEnv>;
  try {
    parsed = parseEnv(serverEnv, env);
  } catch (error) {
    throw redactSecret(error);
  }
  const dataDir = resolve(parsed.DAGPROC_DATA_DIR);
  return {
    database: parsed.DAGPROC_DATABASE_URL ? { url: parsed.DAGPROC_DATABASE_URL } : { dataDir: resolve(dataDir, 'pglite') },
    dataDir,
    host: parsed.DAGPROC_HOST,
    port: parsed.DAGPROC_PORT,
    maxBodyBytes: parsed.DAGPROC_MAX_BODY_BYTES,
    maxBatchCalls: parsed.DAGPROC_MAX_BATCH_CALLS,
    apps: parsed.DAGPROC_API_APPS,
    logLevel: parsed.DAGPROC_LOG_LEVEL,
    logFormat: parsed.DAGPROC_LOG_FORMAT,
    auth: authConfigFromEnv(parsed),
    secrets: { current: parsed.DAGPROC_SECRET_KEY, previous: parsed.DAGPROC_SECRET_KEY_PREVIOUS },
  };
}
