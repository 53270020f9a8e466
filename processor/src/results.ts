import type { PersistFileInput, PersistFileOutput } from '@dagproc/shared';
import type { Logger } from '@dagproc/shared/log';
import type { ProcessorApi } from './api/client.ts';
import type { ApiHealth, OnceLog } from './api-health.ts';
import { describeApiError } from './api/errors.ts';

/**
 * Parse results waiting to reach the API. One per file (a newer parse replaces an unsent
 * older one), sent a few at a time so parsing never waits on the network, and kept through
 * an API outage to be sent when it ends: a result is dropped only when the API rejects it.
 */
export class PendingResults {
  private pending = new Map<string, PersistFileInput>();
  private inFlight = 0;
  persisted = 0;
  rejected = 0;

  constructor(
    private readonly api: ProcessorApi,
    private readonly health: ApiHealth,
    private readonly once: OnceLog,
    private readonly logger: Logger,
    private readonly maxInFlight = 4,
    private readonly onSettled: () => void = () => {},
    /**
     * Told how each result ended: stored (with the API's answer) or dropped (null). Incremental
     * parsing keeps a file whose result was dropped, or whose DAG ids another file owns, parsing.
     */
    private readonly onOutcome: (input: PersistFileInput, result: PersistFileOutput | null) => void = () => {},
  ) {}

  get size(): number {
    return this.pending.size + this.inFlight;
  }

  add(input: PersistFileInput): void {
    const k = key(input);
    const replaced = this.pending.get(k);
    // The newer parse answers the replaced one's priority requests too.
    const ids = [...new Set([...(replaced?.priorityRequestIds ?? []), ...(input.priorityRequestIds ?? [])])];
    this.pending.set(k, { ...input, priorityRequestIds: ids });
    this.flush();
  }

  /** Starts sends up to the in-flight limit; does nothing while the API is down. */
  flush(): void {
    while (!this.health.down && this.inFlight < this.maxInFlight && this.pending.size > 0) {
      const [k, input] = this.pending.entries().next().value as [string, PersistFileInput];
      this.pending.delete(k);
      this.inFlight++;
      void this.send(k, input).finally(() => {
        this.inFlight--;
        this.flush();
        this.onSettled();
      });
    }
  }

  private async send(k: string, input: PersistFileInput): Promise<void> {
    let result: PersistFileOutput;
    try {
      result = await this.api.parsing.persist.mutate(input);
    } catch (error) {
      if (this.health.failed(error, 'persisting a parse result') !== 'rejected') {
        if (!this.pending.has(k)) this.pending.set(k, input);
        else this.add(input); // merge request ids into the newer result waiting there
        return;
      }
      if (httpStatus(error) === 413 && input.importError?.stacktrace !== TOO_LARGE) {
        // Too big to store (a huge file or thousands of DAGs): say so on the file rather than drop it silently.
        this.add(tooLarge(input));
        return;
      }
      this.rejected++;
      this.onOutcome(input, null);
      this.once.warn('persist', 'the API rejected a parse result; it is dropped', {
        bundleName: input.bundleName,
        relativeFileloc: input.relativeFileloc,
        error: describeApiError(error),
      });
      return;
    }
    this.health.succeeded();
    this.persisted++;
    this.onOutcome(input, result);
    this.once.clear('persist');
    for (const r of result.rejected) {
      this.logger.warn('dag id owned by another file', { dagId: r.dagId, relativeFileloc: input.relativeFileloc, owner: r.ownerFileloc });
    }
    this.logger.debug('parse result stored', {
      bundleName: input.bundleName,
      relativeFileloc: input.relativeFileloc,
      outcome: result.outcome,
      dags: result.dags.length,
      importError: input.importError !== null,
    });
  }
}

const TOO_LARGE =
  'ResultTooLarge: this file\'s parse result is larger than the API server accepts (DAGPROC_MAX_BODY_BYTES); split the file or raise the limit';

function tooLarge(input: PersistFileInput): PersistFileInput {
  return { ...input, dags: [], warnings: [], sourceCode: '', importError: { stacktrace: TOO_LARGE } };
}

/** The HTTP status of a failed call: tRPC's own error shape, or the raw response for a non-tRPC answer (the 413). */
function httpStatus(error: unknown): number | undefined {
  const e = error as { data?: { httpStatus?: number }; meta?: { response?: { status?: number } } } | undefined;
  return e?.data?.httpStatus ?? e?.meta?.response?.status;
}

function key(input: PersistFileInput): string {
  return `${input.bundleName}\u0000${input.relativeFileloc}`;
}
