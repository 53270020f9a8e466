import type { Logger } from '@dagproc/shared/log';
import { ApiUnavailable, Unauthorized } from './errors.ts';
import type { TokenSource } from './token-source.ts';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per attempt; a slower answer counts as unavailable. */
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5_000, timeoutMs: 60_000 };

const RETRY_STATUSES = new Set([502, 503, 504]);

/**
 * A fetch for the tRPC client: it adds the bearer token, retries transient failures
 * (connection refused or reset, timeouts, 502/503/504) with full-jitter exponential backoff,
 * never retries another 4xx, and on a 401 re-reads the token file once and tries again.
 */
export function resilientFetch(options: {
  tokens: TokenSource;
  retry?: RetryPolicy;
  logger?: Logger;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}): typeof fetch {
  const retry = options.retry ?? DEFAULT_RETRY;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = options.random ?? Math.random;

  return async function fetchWithRetry(input, init) {
    let refreshedToken = false;
    let lastProblem = '';
    for (let attempt = 1; attempt <= retry.attempts; attempt++) {
      const headers = new Headers(init?.headers);
      headers.set('authorization', `Bearer ${await options.tokens.get()}`);
      let response: Response;
      try {
        response = await fetch(input, { ...init, headers, signal: AbortSignal.timeout(retry.timeoutMs) });
      } catch (error) {
        lastProblem = networkProblem(error);
        options.logger?.debug('API call failed; retrying', { attempt, problem: lastProblem });
        if (attempt < retry.attempts) await sleep(backoff(attempt, retry, random));
        continue;
      }
      if (response.status === 401) {
        const detail = await responseMessage(response);
        // The minter may have rotated the file since we read it: one more try with what is there now.
        if (!refreshedToken) {
          refreshedToken = true;
          await options.tokens.refresh();
          attempt--;
          continue;
        }
        throw new Unauthorized(`the API refused the token in ${options.tokens.path}: ${detail}`);
      }
      if (RETRY_STATUSES.has(response.status)) {
        lastProblem = `HTTP ${response.status}: ${await responseMessage(response)}`;
        options.logger?.debug('API call failed; retrying', { attempt, problem: lastProblem });
        if (attempt < retry.attempts) await sleep(backoff(attempt, retry, random, response.headers.get('retry-after')));
        continue;
      }
      return response;
    }
    throw new ApiUnavailable(`the API at ${originOf(input)} is unavailable (${lastProblem}) after ${retry.attempts} attempts`);
  };
}

function backoff(attempt: number, retry: RetryPolicy, random: () => number, retryAfter?: string | null): number {
  const hinted = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : 0;
  const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
  return Math.max(hinted, Math.floor(random() * ceiling));
}

function networkProblem(error: unknown): string {
  if (error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'timed out';
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

async function responseMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { message?: string }; detail?: string };
    return body.error?.message ?? body.detail ?? text.slice(0, 200);
  } catch {
    return text.slice(0, 200) || response.statusText;
  }
}

function originOf(input: Parameters<typeof fetch>[0]): string {
  try {
    return new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url).origin;
  } catch {
    return String(input);
  }
}
