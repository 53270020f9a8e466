import type { Logger } from '@dagproc/shared/log';
import { ProcessorMetrics } from './metrics.ts';

/** What the manager reports of itself when asked (a scrape, a stats line, a health probe). */
export interface ManagerStatus {
  /** Bundles and the files of their latest listing. */
  bundles: { name: string; files: readonly string[] }[];
  queueLength: number;
  parsesInProgress: number;
  unsentResults: number;
  apiDown: boolean;
}

export interface ObserverOptions {
  logger: Logger;
  /** Seconds between stats lines; 0 prints none. */
  printStatsInterval: number;
  /** Seconds: how old the last good heartbeat and loop turn may be for /health to say 200. */
  healthCheckThreshold: number;
  now?: () => number;
}

export type Health = { ok: true; lastHeartbeat: string; jobId: number | null } | { ok: false; reason: string };

const SLOWEST_FILES = 5;

interface FileRecord {
  durationMs: number;
  importError: boolean;
}

/**
 * Everything the processor tells operators about itself besides its logs: the Prometheus
 * metrics, the periodic file-processing stats line (Airflow's DAG File Processing Stats), and
 * the answer of the local /health endpoint. The manager calls a few hooks; the rest is read
 * from the manager's status when someone asks.
 */
export class ProcessorObserver {
  readonly metrics = new ProcessorMetrics();
  private readonly now: () => number;
  private status: () => ManagerStatus = () => ({ bundles: [], queueLength: 0, parsesInProgress: 0, unsentResults: 0, apiDown: false });
  /** Last parse of each file, by bundle then file, for the stats line's slowest files. */
  private readonly files = new Map<string, Map<string, FileRecord>>();
  private parsedSinceStats = new Map<string, number>();
  private callbacksSinceStats = 0;
  private statsAt: number;
  private loopAt: number | null = null;
  private heartbeatAt: number | null = null;
  private jobId: number | null = null;
  private running = false;

  constructor(private readonly options: ObserverOptions) {
    this.now = options.now ?? Date.now;
    this.statsAt = this.now();
    this.metrics.registry.collect(() => this.refreshGauges());
  }

  /** The manager registers how to read its live state. */
  attach(status: () => ManagerStatus): void {
    this.status = status;
  }

  loopStarted(jobId: number | null): void {
    this.running = true;
    this.jobId = jobId;
  }

  loopStopped(): void {
    this.running = false;
  }

  /** Once per loop turn: the loop is alive; prints the stats line when it is due. */
  loopTurned(): void {
    this.loopAt = this.now();
    const interval = this.options.printStatsInterval * 1000;
    if (interval > 0 && this.now() - this.statsAt >= interval) this.printStats();
  }

  heartbeatSucceeded(): void {
    this.heartbeatAt = this.now();
    this.metrics.lastHeartbeat.set(Math.floor(this.heartbeatAt / 1000));
  }

  apiFailed(kind: 'unavailable' | 'unauthorized' | 'rejected'): void {
    this.metrics.apiFailures.inc({ kind });
  }

  fileParsed(bundle: string, file: string, durationMs: number, importError: boolean): void {
    this.metrics.filesParsed.inc({ bundle, outcome: importError ? 'import_error' : 'ok' });
    this.metrics.parseDuration.observe({ bundle }, durationMs / 1000);
    let files = this.files.get(bundle);
    if (!files) this.files.set(bundle, (files = new Map()));
    files.set(file, { durationMs, importError });
    this.parsedSinceStats.set(bundle, (this.parsedSinceStats.get(bundle) ?? 0) + 1);
  }

  bundleRefreshed(bundle: string, ok: boolean): void {
    this.metrics.bundleRefreshes.inc({ bundle, outcome: ok ? 'ok' : 'failed' });
  }

  callbackRan(ok: boolean): void {
    this.metrics.callbacks.inc({ outcome: ok ? 'success' : 'failed' });
    this.callbacksSinceStats++;
  }

  /** 200 while the loop turns and the API took a heartbeat within the threshold; else why not. */
  health(): Health {
    const threshold = this.options.healthCheckThreshold * 1000;
    const now = this.now();
    if (!this.running) return { ok: false, reason: this.loopAt === null ? 'the processor has not registered its Job yet' : 'the processor loop has stopped' };
    if (this.heartbeatAt === null) return { ok: false, reason: 'no heartbeat has reached the API yet' };
    const heartbeatAge = Math.round((now - this.heartbeatAt) / 1000);
    if (now - this.heartbeatAt > threshold) {
      return { ok: false, reason: `the last heartbeat the API accepted was ${heartbeatAge}s ago (threshold ${this.options.healthCheckThreshold}s)` };
    }
    if (this.loopAt !== null && now - this.loopAt > threshold) {
      return { ok: false, reason: `the processor loop has not turned for ${Math.round((now - this.loopAt) / 1000)}s` };
    }
    return { ok: true, lastHeartbeat: new Date(this.heartbeatAt).toISOString(), jobId: this.jobId };
  }

  /**
   * One info event, as Airflow's DAG File Processing Stats table: per bundle its files, the
   * files parsed since the last line and its import errors; the slowest files by their last
   * parse; the queue. Skipped when nothing was parsed or queued since the last one.
   */
  printStats(): void {
    const status = this.status();
    const intervalSeconds = Math.round((this.now() - this.statsAt) / 1000);
    this.statsAt = this.now();
    const parsed = [...this.parsedSinceStats.values()].reduce((a, b) => a + b, 0);
    const callbacks = this.callbacksSinceStats;
    const parsedByBundle = this.parsedSinceStats;
    this.parsedSinceStats = new Map();
    this.callbacksSinceStats = 0;
    this.forgetMissing(status);
    if (parsed === 0 && callbacks === 0 && status.queueLength === 0) return;
    const bundles = status.bundles.map(({ name, files }) => ({
      bundle: name,
      files: files.length,
      parsed: parsedByBundle.get(name) ?? 0,
      importErrors: [...(this.files.get(name)?.values() ?? [])].filter((f) => f.importError).length,
    }));
    const slowest = [...this.files.entries()]
      .flatMap(([bundle, files]) => [...files.entries()].map(([file, record]) => ({ bundle, file, ...record })))
      .sort((a, b) => b.durationMs - a.durationMs)
      .slice(0, SLOWEST_FILES)
      .map((f) => ({ bundle: f.bundle, file: f.file, lastDurationSeconds: Math.round(f.durationMs) / 1000, importError: f.importError }));
    this.options.logger.info('DAG file processing stats', {
      intervalSeconds,
      parsed,
      queued: status.queueLength,
      parsing: status.parsesInProgress,
      unsentResults: status.unsentResults,
      callbacksRun: callbacks,
      bundles,
      slowest,
    });
  }

  /** Files gone from their bundle leave the stats (and the import error gauge). */
  private forgetMissing(status: ManagerStatus): void {
    for (const { name, files } of status.bundles) {
      const records = this.files.get(name);
      if (!records) continue;
      const present = new Set(files);
      for (const file of records.keys()) if (!present.has(file)) records.delete(file);
    }
  }

  private refreshGauges(): void {
    const status = this.status();
    this.forgetMissing(status);
    const m = this.metrics;
    m.queueLength.set(status.queueLength);
    m.parsesInProgress.set(status.parsesInProgress);
    m.unsentResults.set(status.unsentResults);
    m.apiUp.set(status.apiDown ? 0 : 1);
    for (const { name, files } of status.bundles) {
      m.bundleFiles.set({ bundle: name }, files.length);
      m.importErrors.set({ bundle: name }, [...(this.files.get(name)?.values() ?? [])].filter((f) => f.importError).length);
    }
  }
}
