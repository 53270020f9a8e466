import { EXECUTION_NOT_FOUND, connectionResponse, type ConnectionResponse } from '@dagproc/shared/schemas/execution';

/** The Execution API answered with an error that is not an outage or a refused token (400, 403, 500). */
export class ExecutionApiError extends Error {
  override name = 'ExecutionApiError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * The processor's own reads from `/execution` (a git bundle's Connection), with its own token.
 * `fetch` is the resilient one: bearer token, retries, token re-read on a 401, and
 * ApiUnavailable / Unauthorized when it gives up, so the manager pauses as for any outage.
 */
export function executionClient(apiUrl: string, fetchWithToken: typeof fetch) {
  return {
    /** The Connection, or null when the server has none by that id. */
    async connection(connId: string): Promise<ConnectionResponse | null> {
      const response = await fetchWithToken(`${apiUrl}/execution/connections/${encodeURIComponent(connId)}`, {
        headers: { accept: 'application/json' },
      });
      const text = await response.text();
      if (response.status === 404 && notFoundReason(text) === EXECUTION_NOT_FOUND) return null;
      if (!response.ok) {
        let detail = text.slice(0, 300);
        try {
          detail = (JSON.parse(text) as { detail?: string }).detail ?? detail;
        } catch {
          // not JSON: the text itself
        }
        throw new ExecutionApiError(`reading connection '${connId}' failed: HTTP ${response.status}: ${detail}`, response.status);
      }
      const parsed = connectionResponse.safeParse(JSON.parse(text));
      if (!parsed.success) throw new ExecutionApiError(`reading connection '${connId}': unexpected answer from the API`, response.status);
      return parsed.data;
    },
  };
}

export type ExecutionClient = ReturnType<typeof executionClient>;

function notFoundReason(text: string): unknown {
  try {
    return (JSON.parse(text) as { reason?: unknown } | null)?.reason;
  } catch {
    return undefined;
  }
}
