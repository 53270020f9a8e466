import { z } from 'zod';
import { DEFAULT_ISSUER } from '@dagproc/shared/claims';
import { ConfigError, parseEnv } from '@dagproc/shared/config/env';
import { KeyFileError, MIN_SECRET_BYTES, readPrivateKeyFile, type PrivateKeyFile } from './keys.ts';

/**
 * The token settings of DESIGN.md's configuration table. `authEnv` is a shape, so the server
 * can spread it into its own environment schema; the key file is read while parsing, so a bad
 * key stops startup with a line naming the variable, never a failure on the first request.
 */
export const authEnv = {
  DAGPROC_JWT_SECRET: z
    .string()
    .optional()
    .refine(
      (raw) => raw === undefined || Buffer.byteLength(raw, 'utf8') >= MIN_SECRET_BYTES,
      `must be at least ${MIN_SECRET_BYTES} bytes`,
    )
    .transform((raw) => (raw === undefined ? undefined : new TextEncoder().encode(raw))),
  DAGPROC_JWT_PRIVATE_KEY_PATH: z
    .string()
    .optional()
    .transform((path, ctx): PrivateKeyFile | undefined => {
      if (path === undefined) return undefined;
      try {
        return readPrivateKeyFile(path);
      } catch (error) {
        if (!(error instanceof KeyFileError)) throw error;
        // parseEnv appends the path as `(got "...")`, so the message only needs the reason.
        ctx.addIssue({ code: 'custom', message: `the key file ${error.reason}` });
        return z.NEVER;
      }
    }),
  DAGPROC_JWT_JWKS_URL: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return undefined;
      try {
        const url = new URL(raw);
        if (url.protocol === 'http:' || url.protocol === 'https:') return url;
      } catch {
        // fall through to the issue below
      }
      ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL' });
      return z.NEVER;
    }),
  DAGPROC_JWT_ISSUER: z.string().optional().default(DEFAULT_ISSUER),
};

export const authEnvSchema = z.object(authEnv);
export type AuthEnv = z.infer<typeof authEnvSchema>;

export interface AuthConfig {
  /** UTF-8 bytes of DAGPROC_JWT_SECRET (HS512). */
  secret?: Uint8Array;
  privateKey?: PrivateKeyFile;
  jwksUrl?: URL;
  issuer: string;
}

/** For a server schema that composed `authEnv`: the auth part of its parsed result. */
export function authConfigFromEnv(env: AuthEnv): AuthConfig {
  if (env.DAGPROC_JWT_SECRET && env.DAGPROC_JWT_PRIVATE_KEY_PATH) {
    throw new ConfigError('DAGPROC_JWT_SECRET and DAGPROC_JWT_PRIVATE_KEY_PATH are both set; set only one signing key');
  }
  return {
    secret: env.DAGPROC_JWT_SECRET,
    privateKey: env.DAGPROC_JWT_PRIVATE_KEY_PATH,
    jwksUrl: env.DAGPROC_JWT_JWKS_URL,
    issuer: env.DAGPROC_JWT_ISSUER,
  };
}

export function parseAuthConfig(env: Record<string, string | undefined>): AuthConfig {
  try {
    return authConfigFromEnv(parseEnv(authEnvSchema, env));
  } catch (error) {
    throw redactSecret(error);
  }
}

/**
 * parseEnv quotes the refused value, which for a too-short secret is the secret itself. A
 * server that composes `authEnv` into its own schema should pass its ConfigError through this.
 */
export function redactSecret(error: unknown): unknown {
  if (error instanceof ConfigError && error.message.startsWith('DAGPROC_JWT_SECRET:')) {
    return new ConfigError(error.message.replace(/ \(got [\s\S]*\)$/, ''));
  }
  return error;
}
