import { z } from 'zod';
import { LOG_FORMATS, type LogFormat } from '../log.ts';

/**
 * Configuration comes from the environment, parsed once at start with one zod schema per
 * component. A bad value stops startup with one line naming the setting (DESIGN.md).
 */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const SENSITIVE = /SECRET|PASSWORD|DATABASE_URL/;

/** Parses `env` with a schema whose keys are the DAGPROC_* names. */
export function parseEnv<S extends z.ZodObject>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const picked: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const raw = env[key];
    picked[key] = raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  }
  const result = schema.safeParse(picked);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const name = String(issue.path[0] ?? 'configuration');
  // Secrets and URLs that may carry a password are named, never echoed.
  const got = SENSITIVE.test(name) ? undefined : picked[name];
  throw new ConfigError(`${name}: ${issue.message}${got === undefined ? '' : ` (got ${JSON.stringify(got)})`}`);
}

/** Whole seconds, written as `30` or `30s`, `5m`, `2h`, `1d`. */
export const seconds = (defaultValue: number) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return defaultValue;
      const parsed = parseDuration(raw);
      if (parsed === null) {
        ctx.addIssue({ code: 'custom', message: 'must be a number of seconds (or a duration like 30s, 5m, 2h)' });
        return z.NEVER;
      }
      return parsed;
    });

export const positiveInt = (defaultValue: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return defaultValue;
      if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from 1 to ${max}` });
        return z.NEVER;
      }
      return Number(raw);
    });

export const urlString = (defaultValue: string) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const value = raw ?? defaultValue;
      try {
        const url = new URL(value);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
        return value.replace(/\/+$/, '');
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL' });
        return z.NEVER;
      }
    });

/** DAGPROC_LOG_FORMAT: `json` or `pretty` (any case); unset stays undefined, for the terminal's choice. */
export const logFormat = () =>
  z
    .string()
    .optional()
    .transform((raw, ctx): LogFormat | undefined => {
      if (raw === undefined) return undefined;
      const value = raw.toLowerCase();
      if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
      ctx.addIssue({ code: 'custom', message: `must be one of ${LOG_FORMATS.join(', ')}` });
      return z.NEVER;
    });

/** `90`, `90s`, `15m`, `24h`, `7d` → seconds; null when unreadable. Fractions are refused. */
export function parseDuration(raw: string): number | null {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(raw.trim());
  if (!match) return null;
  const n = Number(match[1]);
  const unit = match[2] ?? 's';
  const factor = unit === 's' ? 1 : unit === 'm' ? 60 : unit === 'h' ? 3600 : 86_400;
  const value = n * factor;
  return Number.isSafeInteger(value) ? value : null;
}
