import {
  PERSIST_BATCH_MAX_DAGS,
  type PersistFileFailure,
  type PersistFileInput,
  type PersistFileOutput,
} from '@dagproc/shared';
import type { Logger } from '@dagproc/shared/log';
import type { ProcessorApi } from './api/client.ts';
import type { ApiHealth, OnceLog } from './api-health.ts';
import { describeApiError } from './api/errors.ts';

/** How long a result waits for others to share its request when fewer than a batch are ready. */
export const PERSIST_LINGER_MS = 50;

export interface PendingResultsOptions {
  /** Requests (batches or single files) at once. */
  maxInFlight?: number;
  /** Files per `parsing.persistMany` request (DAGPROC_PERSIST_BATCH_SIZE); 1 sends each file with `parsing.persist`. */
  batchSize?: number;
  lingerMs?: number;
  /** Called after each request settles (the manager's loop wakes on it). */
  onSettled?: () => void;
  /**
   * Told how each result ended: stored (with the API's answer) or dropped (null). Incremental
   * parsing keeps a file whose result was dropped, or whose DAG ids another file owns, parsing.
   */
  onOutcome?: (input: PersistFileInput, result: PersistFileOutput | null) => void;
}

/**
 * Parse results waiting to reach the API. One per file (a newer parse replaces an unsent
 * older one), sent in batches so parsing never waits on the network and the API pays for one
 * request and one transaction per batch rather than per file: a batch goes as soon as it is
 * full, or once its first result has waited `lingerMs`, or at once when draining. Results are
 * kept through an API outage to be sent when it ends; a result is dropped only when the API
 * rejects that file.
 */
export class PendingResults {
  private pending = new Map<string, PersistFileInput>();
  private inFlight = 0;
  private inFlightFiles = 0;
  /** When the oldest waiting result stops waiting for company; null while nothing waits. */
  private lingerUntil: number | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private draining = false;
  /** The API answered persistMany with 404 (a server without it): send files one by one from now on. */
  private batchesUnsupported = false;
  private readonly maxInFlight: number;
  private readonly batchSize: number;
  private readonly lingerMs: number;
  private readonly onSettled: () => void;
  private readonly onOutcome: (input: PersistFileInput, result: PersistFileOutput | null) => void;
  persisted = 0;
  rejected = 0;

  constructor(
    private readonly api: ProcessorApi,
    private readonly health: ApiHealth,
    private readonly once: OnceLog,
    private readonly logger: Logger,
    options: PendingResultsOptions = {},
  ) {
    this.maxInFlight = options.maxInFlight ?? 4;
    this.batchSize = options.batchSize ?? 1;
    this.lingerMs = options.lingerMs ?? PERSIST_LINGER_MS;
    this.onSettled = options.onSettled ?? (() => {});
    this.onOutcome = options.onOutcome ?? (() => {});
  }

  /** Results not yet stored: waiting, or in a request. */
  get size(): number {
    return this.pending.size + this.inFlightFiles;
  }

  add(input: PersistFileInput): void {
    this.keep(input);
    this.flush();
  }

  /**
   * Waits a result for sending. Of two results of one file the one parsed last is kept, and
   * it answers the other's priority requests too (a result put back after a failed send may
   * be older than one that arrived meanwhile).
   */
  private keep(input: PersistFileInput): void {
    const k = key(input);
    const waiting = this.pending.get(k);
    const newer = waiting && Date.parse(waiting.parseStartedAt) > Date.parse(input.parseStartedAt) ? waiting : input;
    const ids = [...new Set([...(waiting?.priorityRequestIds ?? []), ...(input.priorityRequestIds ?? [])])];
    if (this.pending.size === 0) this.lingerUntil = Date.now() + this.lingerMs;
    this.pending.set(k, { ...newer, priorityRequestIds: ids });
  }

  /**
   * Starts sends up to the in-flight limit: full batches at once, a partial one once it has
   * lingered; does nothing while the API is down.
   */
  flush(): void {
    while (!this.health.down && this.inFlight < this.maxInFlight && this.pending.size > 0) {
      const ready = this.draining || this.pending.size >= this.batchSize || Date.now() >= (this.lingerUntil ?? 0);
      if (!ready) {
        this.armLinger();
        return;
      }
      const batch = this.takeBatch();
      this.inFlight++;
      this.inFlightFiles += batch.length;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.inFlightFiles -= batch.length;
        this.flush();
        this.onSettled();
      });
    }
  }

  /**
   * Drops waiting results of a bundle's files that are gone, so none lands after the sweep
   * that made their DAGs stale (which would make them live again); answers the priority
   * request ids they carried. A result already in a request is past recall, as it always was.
   */
  forgetMissing(bundleName: string, present: ReadonlySet<string>): { priorityRequestIds: number[] } {
    const priorityRequestIds: number[] = [];
    for (const [k, input] of this.pending) {
      if (input.bundleName !== bundleName || present.has(input.relativeFileloc)) continue;
      this.pending.delete(k);
      priorityRequestIds.push(...(input.priorityRequestIds ?? []));
    }
    if (this.pending.size === 0) this.lingerUntil = null;
    return { priorityRequestIds };
  }

  /** Sends everything waiting without lingering, from now on (the processor is stopping). */
  flushNow(): void {
    this.draining = true;
    this.flush();
  }

  private armLinger(): void {
    if (this.lingerTimer !== null || this.lingerUntil === null) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = null;
      this.flush();
    }, Math.max(0, this.lingerUntil - Date.now()));
    this.lingerTimer.unref();
  }

  /** Up to batchSize results, oldest first, within the server's DAG limit per batch (a huge file goes alone). */
  private takeBatch(): PersistFileInput[] {
    const batch: PersistFileInput[] = [];
    let dags = 0;
    for (const [k, input] of this.pending) {
      if (batch.length >= this.batchSize) break;
      if (batch.length > 0 && dags + input.dags.length > PERSIST_BATCH_MAX_DAGS) break;
      batch.push(input);
      dags += input.dags.length;
      this.pending.delete(k);
    }
    this.lingerUntil = this.pending.size > 0 ? Date.now() + this.lingerMs : null;
    if (this.pending.size === 0 && this.lingerTimer !== null) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
    return batch;
  }

  private async send(batch: PersistFileInput[]): Promise<void> {
    if (batch.length === 1 || this.batchesUnsupported) {
      for (const input of batch) await this.sendOne(input);
      return;
    }
    let results;
    try {
      ({ results } = await this.api.parsing.persistMany.mutate({ files: batch }));
    } catch (error) {
      if (this.health.failed(error, 'persisting parse results') !== 'rejected') {
        for (const input of batch) this.keep(input);
        return;
      }
      // Refused whole (too large a body, an older server without batches): each file on its own,
      // so the single-file answers (413 as an import error, a 400 for that file only) apply.
      if (httpStatus(error) === 404) this.batchesUnsupported = true;
      for (const input of batch) await this.sendOne(input);
      return;
    }
    this.health.succeeded();
    this.once.clear('persist');
    results.forEach((result, i) => {
      const input = batch[i]!;
      if (result.ok) this.stored(input, result);
      else this.refused(input, result.error);
    });
  }

  private async sendOne(input: PersistFileInput): Promise<void> {
    let result: PersistFileOutput;
    try {
      result = await this.api.parsing.persist.mutate(input);
    } catch (error) {
      if (this.health.failed(error, 'persisting a parse result') !== 'rejected') {
        this.keep(input);
        return;
      }
      if (httpStatus(error) === 413 && input.importError?.stacktrace !== TOO_LARGE) {
        // Too big to store (a huge file or thousands of DAGs): say so on the file rather than drop it silently.
        this.keep(tooLarge(input));
        return;
      }
      this.drop(input, describeApiError(error));
      return;
    }
    this.health.succeeded();
    this.once.clear('persist');
    this.stored(input, result);
  }

  /** One file of a batch the API did not store: kept for later when it may succeed then, else dropped. */
  private refused(input: PersistFileInput, error: PersistFileFailure): void {
    if (error.httpStatus === 502 || error.httpStatus === 503 || error.httpStatus === 504) {
      this.keep(input);
      return;
    }
    this.drop(input, error.message);
  }

  private drop(input: PersistFileInput, error: string): void {
    this.rejected++;
    this.onOutcome(input, null);
    this.once.warn('persist', 'the API rejected a parse result; it is dropped', {
      bundleName: input.bundleName,
      relativeFileloc: input.relativeFileloc,
      error,
    });
  }

  private stored(input: PersistFileInput, result: PersistFileOutput): void {
    this.persisted++;
    this.onOutcome(input, result);
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
