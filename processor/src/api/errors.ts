import { TRPCClientError } from '@trpc/client';

/** The API could not be reached, or answered 502/503/504, after the client's retries. */
export class ApiUnavailable extends Error {
  override name = 'ApiUnavailable';
}

/** The API refused the token, even after re-reading the token file. */
export class Unauthorized extends Error {
  override name = 'Unauthorized';
}

export type ApiFailure = 'unavailable' | 'unauthorized' | 'rejected';

/**
 * What a failed call means for the manager: `unavailable` and `unauthorized` pause work until
 * the API answers again; `rejected` (any other 4xx/5xx) skips that piece of work only.
 */
export function classifyApiError(error: unknown): ApiFailure {
  for (let e: unknown = error, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof ApiUnavailable) return 'unavailable';
    if (e instanceof Unauthorized) return 'unauthorized';
  }
  if (error instanceof TRPCClientError) {
    const status =
      (error.data as { httpStatus?: number } | undefined)?.httpStatus ??
      (error.meta as { response?: { status?: number } } | undefined)?.response?.status;
    if (status === 401) return 'unauthorized';
    if (status === 502 || status === 503 || status === 504) return 'unavailable';
  }
  return 'rejected';
}

/** One short line for a log: the API's own message when it gave one. */
export function describeApiError(error: unknown): string {
  if (error instanceof TRPCClientError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
