import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ConfigError, parseDuration } from '@dagproc/shared/config/env';
import { createLogger, defaultLogFormat, parseLogFormat, parseLogLevel, type Logger } from '@dagproc/shared/log';
import { bundleName } from '@dagproc/shared/names';
import { parseAuthConfig } from '../auth/config.ts';
import { loadSigningKey } from '../auth/keys.ts';
import { createSigner, type MintedToken, type Signer } from '../auth/mint.ts';

/**
 * `pnpm dagproc provision-token`: the trusted minter. It holds the signing key so the
 * processor never does; the processor only reads the file this writes.
 */

const USAGE =
  'usage: dagproc provision-token --out FILE|- [--lifetime 24h] [--for processor|api] [--bundles a,b] [--subject NAME] [--watch]';
const DEFAULT_LIFETIME_SECONDS = 24 * 3600;
/** setTimeout fires at once past this (about 24.8 days), so longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface TokenRequest {
  out: string;
  lifetimeSeconds: number;
  kind: 'processor' | 'api';
  bundles?: string[];
  subject: string;
  watch: boolean;
}

export interface ProvisionTokenIo {
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  /** Ends `--watch` as SIGTERM does. */
  signal?: AbortSignal;
}

class UsageError extends Error {}

export async function provisionTokenCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  io: ProvisionTokenIo = {},
): Promise<number> {
  const stdout = io.stdout ?? ((text: string) => process.stdout.write(text));
  const stderr = io.stderr ?? ((text: string) => process.stderr.write(text));
  const fail = (message: string, code: number) => {
    stderr(`provision-token: ${message}\n`);
    return code;
  };

  let request: TokenRequest;
  let log: Logger;
  let signer: Signer;
  try {
    request = parseRequest(argv);
    log = createLogger('provision-token', {
      level: parseLogLevel(env.DAGPROC_LOG_LEVEL),
      // Lines captured by a caller's own writer stay JSON unless asked otherwise.
      format: parseLogFormat(env.DAGPROC_LOG_FORMAT) ?? (io.stderr ? 'json' : defaultLogFormat()),
      write: (line) => stderr(line + '\n'),
    });
    const config = parseAuthConfig(env);
    const key = await loadSigningKey(config);
    if (!key) {
      throw new ConfigError(
        'needs DAGPROC_JWT_SECRET or DAGPROC_JWT_PRIVATE_KEY_PATH; with only DAGPROC_JWT_JWKS_URL the external issuer mints tokens',
      );
    }
    signer = createSigner(key, { issuer: config.issuer });
  } catch (error) {
    if (error instanceof UsageError) return fail(`${error.message} (${USAGE})`, 2);
    return fail((error as Error).message, 2);
  }

  const mint = () =>
    request.kind === 'api'
      ? signer.mintApiToken({ subject: request.subject, lifetimeSeconds: request.lifetimeSeconds })
      : signer.mintProcessorToken({ lifetimeSeconds: request.lifetimeSeconds, ...(request.bundles ? { bundles: request.bundles } : {}) });

  const provision = async (): Promise<MintedToken> => {
    const minted = await mint();
    if (request.out === '-') stdout(minted.token + '\n');
    else await writeTokenFile(request.out, minted.token);
    log.info('token minted', {
      out: request.out === '-' ? 'stdout' : resolve(request.out),
      for: request.kind,
      jti: minted.jti,
      expiresAt: minted.expiresAt.toISOString(),
      ...(request.bundles ? { bundles: request.bundles } : {}),
      ...(request.watch ? { renewsAt: new Date(Date.now() + renewalDelayMs(request.lifetimeSeconds)).toISOString() } : {}),
    });
    return minted;
  };

  if (!request.watch) {
    try {
      await provision();
      return 0;
    } catch (error) {
      return fail((error as Error).message, 1);
    }
  }
  return watch(provision, request.lifetimeSeconds, log, fail, io.signal);
}

async function watch(
  provision: () => Promise<MintedToken>,
  lifetimeSeconds: number,
  log: Logger,
  fail: (message: string, code: number) => number,
  outer?: AbortSignal,
): Promise<number> {
  // Handlers go in before the first token is written: whoever waits for the file may signal
  // at once, and without a handler SIGTERM would kill the process rather than stop it.
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    log.info('stopping', { signal });
    stop.abort();
  };
  const onOuterAbort = () => stop.abort();
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  if (outer?.aborted) stop.abort();
  try {
    let expiresAt: Date;
    try {
      expiresAt = (await provision()).expiresAt;
    } catch (error) {
      // A first failure is a misconfiguration (a bad --out, say): say so and stop.
      return fail((error as Error).message, 1);
    }
    let waitMs = renewalDelayMs(lifetimeSeconds);
    for (;;) {
      await sleep(waitMs, stop.signal);
      if (stop.signal.aborted) return 0;
      try {
        expiresAt = (await provision()).expiresAt;
        waitMs = renewalDelayMs(lifetimeSeconds);
      } catch (error) {
        // A full disk or a permission change must not end the watch: the token on disk is
        // still valid for a while, so keep trying.
        waitMs = retryDelayMs(lifetimeSeconds);
        log.error('re-mint failed; retrying', { error, retryInMs: waitMs, currentTokenExpiresAt: expiresAt.toISOString() });
      }
    }
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    outer?.removeEventListener('abort', onOuterAbort);
  }
}

/**
 * Re-mint at 80% of the lifetime: the processor re-reads the file on a short cache, so it picks
 * the new token up well before the old one expires, even after a missed cycle or two of its own.
 */
export function renewalDelayMs(lifetimeSeconds: number): number {
  return Math.max(1, Math.floor(lifetimeSeconds * 1000 * 0.8));
}

/** After a failed re-mint: soon, but not in a tight loop. */
export function retryDelayMs(lifetimeSeconds: number): number {
  return Math.min(30_000, Math.max(1000, Math.floor(lifetimeSeconds * 100)));
}

async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  const until = Date.now() + ms;
  try {
    for (let left = ms; left > 0 && !signal.aborted; left = until - Date.now()) {
      await delay(Math.min(left, MAX_TIMER_MS), undefined, { signal });
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}

/**
 * Temp file in the same directory, 0600, fsync, rename: a reader sees the old token or the new
 * one, never a half-written file, and the token survives a crash right after the rename.
 */
export async function writeTokenFile(path: string, token: string): Promise<void> {
  const target = resolve(path);
  const dir = dirname(target);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.chmod(0o600); // the umask could only lower it, but an odd filesystem might not honour the mode at all
      await handle.writeFile(token);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw new Error(`cannot write the token to ${target}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  await syncDirectory(dir);
}

async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic there.
  }
}

function parseRequest(argv: string[]): TokenRequest {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        out: { type: 'string' },
        lifetime: { type: 'string' },
        bundles: { type: 'string' },
        watch: { type: 'boolean', default: false },
        for: { type: 'string', default: 'processor' },
        subject: { type: 'string' },
      },
    }));
  } catch (error) {
    throw new UsageError(firstLine((error as Error).message));
  }
  if (values.out === undefined || values.out === '') throw new UsageError('--out FILE is required (use --out - for stdout)');
  if (values.out === '-' && values.watch) throw new UsageError('--watch needs a file for --out, not stdout');
  const kind = values.for;
  if (kind !== 'processor' && kind !== 'api') throw new UsageError(`--for must be processor or api (got ${JSON.stringify(kind)})`);

  let lifetimeSeconds = DEFAULT_LIFETIME_SECONDS;
  if (values.lifetime !== undefined) {
    const parsed = parseDuration(values.lifetime);
    if (parsed === null || parsed < 1) {
      throw new UsageError(`--lifetime must be a positive duration like 3600, 90s, 15m, 24h or 7d (got ${JSON.stringify(values.lifetime)})`);
    }
    lifetimeSeconds = parsed;
  }

  let bundles: string[] | undefined;
  if (values.bundles !== undefined) {
    if (kind !== 'processor') throw new UsageError('--bundles applies to processor tokens only');
    bundles = [...new Set(values.bundles.split(',').map((name) => name.trim()))];
    for (const name of bundles) {
      const result = bundleName.safeParse(name);
      if (!result.success) throw new UsageError(`--bundles: ${JSON.stringify(name)} is not a bundle name: ${result.error.issues[0]!.message}`);
    }
  }

  if (values.subject !== undefined && kind !== 'api') throw new UsageError('--subject applies to --for api tokens only');
  const subject = values.subject ?? 'admin';
  if (!/^[A-Za-z0-9][A-Za-z0-9._@:-]{0,199}$/.test(subject)) {
    throw new UsageError(`--subject must be 1-200 letters, digits, ".", "_", "@", ":" or "-" (got ${JSON.stringify(subject)})`);
  }
  return { out: values.out, lifetimeSeconds, kind, ...(bundles ? { bundles } : {}), subject, watch: values.watch };
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.replace(/\.$/, '');
}
