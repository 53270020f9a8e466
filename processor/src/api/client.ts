import { createTRPCClient, httpLink, type TRPCClient } from '@trpc/client';
import type { AppRouter } from '@dagproc/server/router';
import type { Logger } from '@dagproc/shared/log';
import { executionClient, type ExecutionClient } from './execution.ts';
import { resilientFetch, type RetryPolicy } from './resilient-fetch.ts';
import { TokenSource } from './token-source.ts';

export type ProcessorApi = TRPCClient<AppRouter>;

export interface ApiClient {
  api: ProcessorApi;
  /** `/execution` reads with the processor's own token (a git bundle's Connection). */
  execution: ExecutionClient;
  tokens: TokenSource;
  /** Resolves when /dag-processing/health answers 200. */
  isReady(): Promise<boolean>;
}

/** The processor's only way to metadata: the server's tRPC router, typed from its definition. */
export function createApiClient(options: {
  apiUrl: string;
  tokenPath: string;
  logger?: Logger;
  retry?: RetryPolicy;
  tokenCacheMs?: number;
}): ApiClient {
  const tokens = new TokenSource(options.tokenPath, options.tokenCacheMs);
  const fetchWithToken = resilientFetch({ tokens, ...(options.retry ? { retry: options.retry } : {}), ...(options.logger ? { logger: options.logger } : {}) });
  const api = createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${options.apiUrl}/dag-processing/trpc`, fetch: fetchWithToken })],
  });
  return {
    api,
    execution: executionClient(options.apiUrl, fetchWithToken),
    tokens,
    async isReady() {
      try {
        const res = await fetch(`${options.apiUrl}/dag-processing/health`, { signal: AbortSignal.timeout(5_000) });
        await res.text().catch(() => '');
        return res.ok;
      } catch {
        return false;
      }
    },
  };
}
