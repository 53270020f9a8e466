import { randomUUID } from 'node:crypto';
import { hostname as osHostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { sha256Hex, type CallbackRequest, type PersistFileInput } from '@dagproc/shared';
import type { Logger } from '@dagproc/shared/log';
import type { ApiClient } from './api/client.ts';
import { classifyApiError, describeApiError } from './api/errors.ts';
import { ApiHealth, OnceLog } from './api-health.ts';
import type { BundleCheckout, BundleFile, DagBundle } from './bundles/index.ts';
import { hashFile } from './bundles/index.ts';
import { BundleWatcher, filesAffected, type WatchBatch } from './bundles/watch.ts';
import { IncrementalParsing } from './incremental.ts';
import type { ProcessorConfig } from './config.ts';
import type { ParseOutcome, ParsePool } from './parse-pool.ts';
import { ProcessorObserver, type ManagerStatus } from './observability/observer.ts';
import { FileQueue, type QueueEntry } from './queue.ts';
import { PendingResults } from './results.ts';

/** Claims are SKIP LOCKED queries on shared tables: at most this often, however fast files finish. */
const CLAIM_INTERVAL_MS = 1_000;

/** Stops the current loop iteration: the API is down, and the rest of the work waits. */
class Paused extends Error {}

/** A bundle could not be refreshed (its folder, its fetch): not an API failure. */
class BundleRefreshFailed extends Error {}

/** An unchanged bundle's `last_refreshed` is recorded at most this often. */
const SYNC_UNCHANGED_EVERY_MS = 60_000;

interface BundleView {
  bundle: DagBundle;
  files: BundleFile[];
  version: string | null;
  refreshedAt: number;
  /** When the last refresh failed (0: it did not); the next try waits the refresh interval. */
  failedAt: number;
  sweptAt: number;
  /** The file list the last successful sweep saw. */
  sweptFiles: string;
  /** When bundles.sync last recorded a good refresh, and the version it recorded. */
  syncedAt: number;
  syncedVersion: string | null;
  /** The bundle's row holds a refresh error this processor reported; the next good refresh clears it. */
  errorOnRow: boolean;
  /** The file watcher saw files come or go: list the bundle at the next loop turn. */
  relistRequested: boolean;
}

export interface ManagerStats {
  parsed: number;
  /** Due files skipped by incremental parsing: static, and nothing they read changed. */
  skippedUnchanged: number;
  importErrors: number;
  callbacksRun: number;
}

/**
 * The DAG processor's main loop, modelled on Airflow's DagFileProcessorManager: wait for the
 * API, register the Job, then loop — heartbeat, refresh due bundles, claim priority parse
 * requests and callbacks, queue due files, keep up to DAGPROC_PARSING_PROCESSES parses
 * running, hand results to the API, sweep stale DAGs. Every metadata read and write goes
 * through the API; an API outage pauses the loop and it resumes where it was.
 */
export class DagFileProcessorManager {
  private readonly health: ApiHealth;
  private readonly once: OnceLog;
  private readonly queue: FileQueue;
  private readonly results: PendingResults;
  private readonly incremental: IncrementalParsing;
  private readonly watchers = new Map<string, BundleWatcher>();
  private readonly views = new Map<string, BundleView>();
  private readonly hostname = osHostname();
  private readonly registrationId = randomUUID();
  private jobId: number | null = null;
  private lastHeartbeat = 0;
  private lastClaim = 0;
  private acking: Promise<void> | null = null;
  private stopping = false;
  private wake: (() => void) | null = null;
  private readonly parsing = new Set<Promise<void>>();
  private readonly callbacks = new Set<Promise<void>>();
  private readonly unackedCallbacks: { request: CallbackRequest; outcome: 'success' | 'failed'; error?: string }[] = [];
  readonly stats: ManagerStats = { parsed: 0, skippedUnchanged: 0, importErrors: 0, callbacksRun: 0 };
  /** Files whose latest parse failed, for the progress line. */
  private readonly failingFiles = new Set<string>();
  private readonly startedAt = Date.now();
  /** Results parsed but not yet stored, past which no new parse starts. */
  private readonly maxUnsentResults: number;
  /** Passes over every file logged so far, and when the current one began (its first parse). */
  private passesLogged = 0;
  private passStartedAt: number | null = null;

  constructor(
    private readonly config: ProcessorConfig,
    private readonly client: ApiClient,
    private readonly pool: ParsePool,
    bundles: DagBundle[],
    private readonly logger: Logger,
    /** Metrics, the stats line and /health; main.ts serves them. */
    readonly observer: ProcessorObserver = new ProcessorObserver({
      logger,
      printStatsInterval: config.printStatsInterval,
      healthCheckThreshold: config.healthCheckThreshold,
    }),
  ) {
    this.health = new ApiHealth(logger, Date.now, 5_000, (kind) => observer.apiFailed(kind));
    observer.attach(() => this.status());
    this.once = new OnceLog(logger);
    this.queue = new FileQueue({
      sortMode: config.fileSortMode,
      minFileProcessInterval: config.minFileProcessInterval,
      hostname: this.hostname,
      ...(config.numRuns !== null ? { numRuns: config.numRuns } : {}),
    });
    this.maxUnsentResults = Math.max(64, config.persistBatchSize * 8);
    this.incremental = new IncrementalParsing({
      enabled: config.incrementalParsing,
      staticReparseIntervalMs: config.staticReparseInterval * 1000,
    });
    this.results = new PendingResults(client.api, this.health, this.once, logger, {
      batchSize: config.persistBatchSize,
      onSettled: () => this.poke(),
      onOutcome: (input, result) =>
        this.incremental.noteStored(input.bundleName, input.relativeFileloc, result === null ? 'dropped' : result.rejected.length > 0 ? 'conflict' : 'stored'),
    });
    for (const bundle of bundles) {
      const view: BundleView = { bundle, files: [], version: null, refreshedAt: 0, failedAt: 0, sweptAt: 0, sweptFiles: '', syncedAt: 0, syncedVersion: null, errorOnRow: false, relistRequested: false };
      this.views.set(bundle.name, view);
      if (config.fileWatch && bundle.kind === 'local') {
        this.watchers.set(bundle.name, new BundleWatcher({ bundleName: bundle.name, logger, onBatch: (batch) => this.onFilesChanged(view, batch) }));
      }
    }
  }

  /** Asks the loop to finish: in-flight work gets a bounded grace period, then the Job completes. */
  stop(): void {
    this.stopping = true;
    this.poke();
  }

  async run(): Promise<void> {
    await this.waitForApi();
    if (this.stopping) return;
    await this.untilDone('registering', () => this.register());
    this.logger.info('processor started', {
      jobId: this.jobId,
      bundles: [...this.views.keys()],
      parsingProcesses: this.config.parsingProcesses,
      ...(this.config.dryRun ? { dryRun: true } : {}),
    });
    this.observer.loopStarted(this.jobId);
    while (!this.stopping) {
      await this.iterate();
      this.observer.loopTurned();
      if (this.numRunsDone()) break;
      await this.sleep(this.health.down ? this.health.msUntilProbe() : 1_000);
    }
    this.observer.loopStopped();
    await this.shutdown();
  }

  private async waitForApi(): Promise<void> {
    let announced = false;
    for (let delay = 250; !this.stopping; delay = Math.min(5_000, delay * 2)) {
      if (await this.client.isReady()) return;
      if (!announced) {
        this.logger.warn('waiting for the API to be ready', { url: `${this.config.apiUrl}/dag-processing/health` });
        announced = true;
      }
      await this.sleep(delay);
    }
  }

  private async register(): Promise<void> {
    // --dry-run writes nothing: no bundle rows, no Job (so no heartbeats and no claims either).
    if (this.config.dryRun) return;
    // With --bundle-name this processor sees only part of its group's configuration.
    const partial = this.config.bundleNameFilter !== null;
    await this.client.api.bundles.reconcile.mutate({
      group: this.config.processorGroup,
      bundles: (partial ? this.config.bundles : this.config.configuredBundles).map((b) => ({ name: b.name, kind: b.kind })),
      deactivateOthers: !partial,
    });
    const { jobId } = await this.client.api.jobs.register.mutate({
      jobType: 'DagProcessorJob',
      hostname: this.hostname,
      unixname: unixname(),
      pid: process.pid,
      registrationId: this.registrationId,
    });
    this.jobId = jobId;
    this.lastHeartbeat = Date.now();
    this.observer.heartbeatSucceeded();
  }

  /** Retries a start-up step through outages until it succeeds or the processor is told to stop. */
  private async untilDone(what: string, step: () => Promise<void>): Promise<void> {
    while (!this.stopping) {
      try {
        await step();
        this.health.succeeded();
        return;
      } catch (error) {
        if (this.health.failed(error, what) === 'rejected') throw error;
        await this.sleep(this.health.msUntilProbe() || 1_000);
        this.health.probeDue();
      }
    }
  }

  private async iterate(): Promise<void> {
    if (this.health.down && !this.health.probeDue()) return;
    try {
      await this.step('heartbeat', () => this.heartbeat(this.health.down));
      this.results.flush();
      await this.step('acknowledging callbacks', () => this.ackPendingCallbacks());
      for (const view of this.views.values()) {
        if (view.relistRequested || Date.now() - Math.max(view.refreshedAt, view.failedAt) >= view.bundle.refreshIntervalSeconds * 1000) {
          await this.step(`refreshing bundle ${view.bundle.name}`, () => this.refreshBundle(view));
        }
      }
      if (!this.config.dryRun && Date.now() - this.lastClaim >= CLAIM_INTERVAL_MS) {
        this.lastClaim = Date.now();
        await this.step('claiming priority parse requests', () => this.claimParseRequests());
        await this.step('claiming callbacks', () => this.claimCallbacks());
      }
    } catch (error) {
      if (error instanceof Paused) return;
      throw error;
    }
    const now = Date.now();
    for (const view of this.views.values()) {
      this.queue.enqueueDue(
        view.files.map((f) => ({ bundleName: view.bundle.name, relativeFileloc: f.relativeFileloc, mtimeMs: f.mtimeMs })),
        now,
      );
    }
    this.startParses();
    this.logProgress();
  }

  /**
   * Long work shows progress: one line each time every file has been parsed once more (or
   * skipped as unchanged) and its result handed over; the observer's stats line
   * (DAGPROC_PRINT_STATS_INTERVAL) says how parsing goes in between.
   */
  private logProgress(): void {
    const files = this.allFiles();
    let passes = files.length === 0 ? 0 : Infinity;
    for (const f of files) passes = Math.min(passes, this.queue.fileStat(f.bundleName, f.relativeFileloc)?.runCount ?? 0);
    if (passes > this.passesLogged && this.parsing.size === 0 && this.results.size === 0) {
      const first = this.passesLogged === 0;
      this.passesLogged = passes;
      const fields = { files: files.length, importErrors: this.failingFiles.size };
      if (first) {
        this.logger.info('first pass over all bundles done', { ...fields, seconds: Math.round((Date.now() - this.startedAt) / 100) / 10 });
      } else {
        // From the pass's first parse, so the wait for files to fall due is left out (a file parsed
        // early, on a change or a request, starts the pass early). Pass 1 counts from start-up.
        const startedAt = this.passStartedAt ?? Date.now();
        this.logger.info('pass over all bundles done', {
          pass: passes,
          ...fields,
          startedAt: new Date(startedAt).toISOString(),
          seconds: Math.round((Date.now() - startedAt) / 100) / 10,
        });
      }
      this.passStartedAt = null;
    }
  }

  /** Live state, read by the observer when metrics are scraped or the stats line is due. */
  status(): ManagerStatus {
    return {
      bundles: [...this.views.values()].map((v) => ({ name: v.bundle.name, files: v.files.map((f) => f.relativeFileloc) })),
      queueLength: this.queue.size,
      parsesInProgress: this.parsing.size,
      unsentResults: this.results.size,
      apiDown: this.health.down,
    };
  }

  private allFiles() {
    return [...this.views.values()].flatMap((v) =>
      v.files.map((f) => ({ bundleName: v.bundle.name, relativeFileloc: f.relativeFileloc })),
    );
  }

  /** Runs one piece of loop work: an outage pauses the loop; any other failure skips that piece, logged once. */
  private async step(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
      this.once.clear(what);
    } catch (error) {
      if (error instanceof BundleRefreshFailed) {
        this.once.warn(what, `${what} failed; skipped this cycle`, { error: error.message });
        return;
      }
      const kind = this.health.failed(error, what);
      if (kind !== 'rejected') throw new Paused();
      this.once.warn(what, `${what} failed; skipped this cycle`, { error: describeApiError(error) });
    }
  }

  private async heartbeat(force: boolean): Promise<void> {
    if (this.jobId === null) {
      // --dry-run has no Job: after an outage (a per-file token it could not get), readiness stands in for the heartbeat.
      if (force && (await this.client.isReady())) this.health.succeeded();
      return;
    }
    if (!force && Date.now() - this.lastHeartbeat < this.config.heartbeatInterval * 1000) return;
    const { state } = await this.client.api.jobs.heartbeat.mutate({ jobId: this.jobId! });
    this.health.succeeded();
    this.lastHeartbeat = Date.now();
    this.observer.heartbeatSucceeded();
    if (state !== 'running') {
      this.logger.error('the Job was ended from outside; stopping', { jobId: this.jobId, state });
      this.stop();
    }
  }

  private async refreshBundle(view: BundleView): Promise<void> {
    let version: string | null;
    let files: BundleFile[];
    // Cleared before listing: a watcher event during the listing asks for another one.
    view.relistRequested = false;
    try {
      ({ version } = await view.bundle.refresh());
      files = await view.bundle.listFiles();
    } catch (error) {
      if (classifyApiError(error) !== 'rejected') throw error;
      // The bundle's own failure (a fetch, a missing folder): reported on its row, retried at
      // the next refresh; its last good files go on being parsed meanwhile.
      view.failedAt = Date.now();
      this.observer.bundleRefreshed(view.bundle.name, false);
      const reason = error instanceof Error ? error.message : String(error);
      if (!this.config.dryRun) {
        await this.client.api.bundles.sync.mutate({ name: view.bundle.name, error: reason.slice(0, 4000) });
        view.errorOnRow = true;
      }
      throw new BundleRefreshFailed(reason);
    }
    this.observer.bundleRefreshed(view.bundle.name, true);
    view.failedAt = 0;
    view.files = files;
    view.version = version;
    view.refreshedAt = Date.now();
    const names = files.map((f) => f.relativeFileloc);
    const { priorityRequestIds } = this.queue.forgetMissing(view.bundle.name, names);
    priorityRequestIds.push(...this.results.forgetMissing(view.bundle.name, new Set(names)).priorityRequestIds);
    this.incremental.forgetMissing(view.bundle.name, names);
    this.watchers.get(view.bundle.name)?.watch(view.bundle.root);
    const present = new Set(names.map((n) => `${view.bundle.name}/${n}`));
    for (const key of this.failingFiles) if (key.startsWith(`${view.bundle.name}/`) && !present.has(key)) this.failingFiles.delete(key);
    if (this.config.dryRun) return;
    if (priorityRequestIds.length) await this.completeParseRequests(priorityRequestIds);
    // A new version, a recovery (it clears the bundle's error) or a minute gone: an unchanged
    // bundle re-listed every few seconds need not rewrite its row each time.
    if (view.errorOnRow || version !== view.syncedVersion || view.refreshedAt - view.syncedAt >= SYNC_UNCHANGED_EVERY_MS) {
      await this.client.api.bundles.sync.mutate({
        name: view.bundle.name,
        version,
        lastRefreshed: new Date(view.refreshedAt).toISOString(),
      });
      view.syncedAt = view.refreshedAt;
      view.syncedVersion = version;
      view.errorOnRow = false;
    }
    const fingerprint = names.join('\n');
    if (fingerprint !== view.sweptFiles || Date.now() - view.sweptAt > 60_000) {
      await this.sweep(view, names);
      view.sweptFiles = fingerprint;
      view.sweptAt = Date.now();
    }
    this.logger.debug('bundle refreshed', { bundleName: view.bundle.name, files: files.length, version });
  }

  /** Gone files' DAGs go stale and their import errors go; stale DAGs' warnings are purged. */
  private async sweep(view: BundleView, files: string[]): Promise<void> {
    const bundleName = view.bundle.name;
    const { staleDagIds } = await this.client.api.dags.sweepStale.mutate({
      bundleName,
      files,
      staleDagThreshold: this.config.staleDagThreshold,
    });
    await this.client.api.importErrors.purgeMissing.mutate({ bundleName, files });
    await this.client.api.warnings.purgeInactive.mutate({ bundleNames: [bundleName] });
    if (staleDagIds.length) this.logger.info('DAGs marked stale', { bundleName, dagIds: staleDagIds });
  }

  private async claimParseRequests(): Promise<void> {
    const bundleNames = this.listedBundles();
    if (bundleNames.length === 0) return;
    const { requests } = await this.client.api.claims.parseRequests.mutate({
      jobId: this.jobId!,
      bundleNames,
      limit: 100,
      // Held until the file's result is stored; generous, since the queue may be busy.
      leaseSeconds: Math.max(300, this.config.fileParseTimeout * 3),
    });
    if (requests.length === 0) return;
    const missing: number[] = [];
    const present = requests.filter((r) => {
      const known = this.views.get(r.bundleName)?.files.some((f) => f.relativeFileloc === r.relativeFileloc);
      if (!known) missing.push(r.id);
      return known;
    });
    this.queue.enqueuePriority(present.map((r) => ({ id: r.id, bundleName: r.bundleName, relativeFileloc: r.relativeFileloc })));
    if (missing.length) {
      this.logger.warn('priority parse requests for files the bundle does not hold; dropped', { ids: missing });
      await this.completeParseRequests(missing);
    }
    this.logger.debug('priority parse requests claimed', { count: requests.length });
  }

  /**
   * Bundles listed at least once. Work for a bundle never fetched (a git bundle whose first
   * fetch failed) stays with the server: its files are unknown, not gone.
   */
  private listedBundles(): string[] {
    return [...this.views.values()].filter((v) => v.refreshedAt > 0).map((v) => v.bundle.name);
  }

  private async completeParseRequests(ids: number[]): Promise<void> {
    await this.client.api.claims.completeParseRequests.mutate({ jobId: this.jobId!, ids });
  }

  private startParses(): void {
    while (
      !this.stopping &&
      !this.health.down &&
      this.parsing.size < this.config.parsingProcesses &&
      // Back-pressure: when the API stores results slower than files parse (a slow database, a
      // first pass over a big bundle), parsing waits rather than piling results up in memory.
      this.results.size < this.maxUnsentResults
    ) {
      const entry = this.queue.next(Date.now());
      if (!entry) return;
      this.passStartedAt ??= Date.now();
      const task: Promise<void> = this.parseOne(entry)
        .catch((error: unknown) => {
          this.logger.error('parsing a file failed unexpectedly', { relativeFileloc: entry.relativeFileloc, error });
          this.queue.release(entry);
        })
        .finally(() => {
          this.parsing.delete(task);
          this.startParses();
          // The loop's own pace serves everything else; wake it only when it may be done.
          if (this.parsing.size === 0) this.poke();
        });
      this.parsing.add(task);
    }
  }

  /**
   * A file seen to change (or a module it imported, or a path where one of its imports looked)
   * is queued now, whatever its interval; a file added or removed makes the bundle listed again.
   */
  private onFilesChanged(view: BundleView, batch: WatchBatch): void {
    if (batch.relist) view.relistRequested = true;
    this.incremental.invalidate(batch.paths);
    const changed = filesAffected(batch, view.bundle.root, view.files, (p) =>
      this.incremental.dependents(p).filter((d) => d.bundleName === view.bundle.name),
    );
    this.queue.enqueueChanged(changed.map((f) => ({ bundleName: view.bundle.name, ...f })));
    this.logger.debug('files changed', { bundleName: view.bundle.name, queued: changed.length, relist: batch.relist });
    this.poke();
  }

  /**
   * Incremental parsing: a due file that is static and whose modules did not change counts as
   * parsed and sends nothing. Priority requests and files new to the queue always parse.
   */
  private async skipUnchanged(entry: QueueEntry, view: BundleView): Promise<boolean> {
    if (entry.tier !== 'due' || entry.priorityRequestIds.length > 0) return false;
    const skip = await this.incremental.canSkip(entry.bundleName, entry.relativeFileloc, {
      bundleVersion: view.version,
      bundleRoot: view.bundle.root,
    });
    if (!skip) return false;
    if (this.queue.markFinished(entry, Date.now())) this.stats.skippedUnchanged++;
    return true;
  }

  private async parseOne(entry: QueueEntry): Promise<void> {
    const view = this.views.get(entry.bundleName)!;
    if (await this.skipUnchanged(entry, view)) return;
    // One tree from the first read to the result: a git bundle may move on meanwhile, and a
    // version or root that moves during the parse makes the file due again.
    const checkout = view.bundle.checkout();
    try {
      await this.parseAt(entry, checkout);
    } finally {
      checkout.release();
    }
  }

  private async parseAt(entry: QueueEntry, checkout: BundleCheckout): Promise<void> {
    const absolutePath = join(checkout.root, entry.relativeFileloc);
    const parseStartedAt = new Date();
    let content: { contentHash: string; source: string };
    try {
      content = await hashFile(absolutePath);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        // Gone since the last listing: the next refresh sweeps it; its requests need no parse.
        const ids = this.queue.forget(entry.bundleName, entry.relativeFileloc);
        this.incremental.forget(entry.bundleName, entry.relativeFileloc);
        if (ids.length) await this.completeParseRequests(ids).catch(() => {});
        return;
      }
      // Listed but unreadable (permissions, say): the file's problem, reported like any other.
      this.finishParse(entry, checkout.version, parseStartedAt, { contentHash: sha256Hex(''), source: '' }, {
        dags: [],
        importError: { stacktrace: `FileReadError: ${entry.relativeFileloc} cannot be read (${code ?? String(error)})` },
        durationMs: 0,
      });
      return;
    }
    let tokenFailure: unknown;
    const outcome = await this.pool.parse({
      bundleName: entry.bundleName,
      bundleRoot: checkout.root,
      relativeFileloc: entry.relativeFileloc,
      fileToken: async () => {
        try {
          const { token } = await this.client.api.parsing.fileToken.mutate({
            bundleName: entry.bundleName,
            relativeFileloc: entry.relativeFileloc,
          });
          return token;
        } catch (error) {
          tokenFailure = error;
          throw error;
        }
      },
    });
    if (tokenFailure !== undefined && this.health.failed(tokenFailure, 'fetching a per-file token') !== 'rejected') {
      // The file could not read its Variables because the API is down: not the file's fault.
      this.queue.release(entry);
      return;
    }
    this.finishParse(entry, checkout.version, parseStartedAt, content, outcome);
    // Only a file the queue still knows: one deleted meanwhile must not leave a record behind.
    if (this.queue.fileStat(entry.bundleName, entry.relativeFileloc)) {
      this.incremental.record(entry.bundleName, entry.relativeFileloc, {
        bundleVersion: checkout.version,
        bundleRoot: checkout.root,
        outcome,
        parsedAt: parseStartedAt.getTime(),
      });
    }
  }

  private finishParse(
    entry: QueueEntry,
    bundleVersion: string | null,
    parseStartedAt: Date,
    content: { contentHash: string; source: string },
    outcome: ParseOutcome,
  ): void {
    const parseFinishedAt = new Date();
    if (!this.queue.markFinished(entry, parseFinishedAt.getTime())) {
      // Deleted while it was parsed, and swept since: storing this would bring its DAGs back.
      return;
    }
    this.stats.parsed++;
    this.observer.fileParsed(entry.bundleName, entry.relativeFileloc, outcome.durationMs, outcome.importError !== null);
    const fileKey = `${entry.bundleName}/${entry.relativeFileloc}`;
    if (outcome.importError) {
      this.stats.importErrors++;
      this.failingFiles.add(fileKey);
    } else {
      this.failingFiles.delete(fileKey);
    }
    this.logger.debug('file parsed', {
      bundleName: entry.bundleName,
      relativeFileloc: entry.relativeFileloc,
      dags: outcome.dags.length,
      importError: outcome.importError !== null,
      durationMs: outcome.durationMs,
    });
    if (this.config.dryRun) return;
    const input: PersistFileInput = {
      bundleName: entry.bundleName,
      bundleVersion,
      relativeFileloc: entry.relativeFileloc,
      parseId: randomUUID(),
      parseStartedAt: parseStartedAt.toISOString(),
      parseFinishedAt: parseFinishedAt.toISOString(),
      contentHash: content.contentHash,
      // Postgres text cannot hold NUL; such a file still gets its DAGs and code stored.
      sourceCode: content.source.replaceAll('\u0000', '\uFFFD'),
      dags: outcome.dags,
      importError: outcome.importError && { stacktrace: outcome.importError.stacktrace.replaceAll('\u0000', '\uFFFD') },
      warnings: [],
      priorityRequestIds: entry.priorityRequestIds,
      staleDagThreshold: this.config.staleDagThreshold,
    };
    this.results.add(input);
  }

  private async claimCallbacks(): Promise<void> {
    const room = this.config.maxCallbacksPerLoop - this.callbacks.size;
    if (room <= 0) return;
    const bundleNames = this.listedBundles();
    if (bundleNames.length === 0) return;
    const { callbacks } = await this.client.api.claims.callbacks.mutate({
      jobId: this.jobId!,
      bundleNames,
      limit: room,
      leaseSeconds: this.config.fileParseTimeout + 60,
    });
    for (const request of callbacks) {
      const task: Promise<void> = this.runCallback(request).finally(() => {
        this.callbacks.delete(task);
        if (this.callbacks.size === 0) this.poke();
      });
      this.callbacks.add(task);
    }
  }

  private async runCallback(request: CallbackRequest): Promise<void> {
    const view = this.views.get(request.bundleName);
    if (!view) return;
    const checkout = view.bundle.checkout();
    const outcome = await this.pool
      .runCallback({
      bundleName: request.bundleName,
      bundleRoot: checkout.root,
      relativeFileloc: request.relativeFileloc,
      dagId: request.dagId,
      callbackType: request.callbackType,
      context: {
        dagId: request.dagId,
        runId: request.runId,
        callbackType: request.callbackType,
        msg: request.msg,
        context: request.context,
      },
      fileToken: async () =>
        (await this.client.api.parsing.fileToken.mutate({ bundleName: request.bundleName, relativeFileloc: request.relativeFileloc }))
          .token,
    })
      // The pool refuses a task it cannot run (a bad path, a pool shutting down): the callback failed.
      .catch((error: unknown) => ({ ok: false, error: error instanceof Error ? error.message : String(error), durationMs: 0 }))
      .finally(() => checkout.release());
    this.stats.callbacksRun++;
    this.observer.callbackRan(outcome.ok);
    const result = { request, outcome: outcome.ok ? ('success' as const) : ('failed' as const), ...(outcome.error ? { error: outcome.error } : {}) };
    if (!outcome.ok) {
      this.logger.warn('DAG callback failed', { dagId: request.dagId, callbackType: request.callbackType, error: outcome.error?.split('\n')[0] });
    } else {
      this.logger.info('DAG callback ran', { dagId: request.dagId, callbackType: request.callbackType, runId: request.runId });
    }
    this.unackedCallbacks.push(result);
    await this.ackPendingCallbacks().catch((error: unknown) => this.health.failed(error, 'acknowledging a callback'));
  }

  /**
   * Acknowledgements wait out an outage; the lease keeps the callback from running twice
   * meanwhile. One sender at a time, so each callback is acknowledged exactly once.
   */
  private ackPendingCallbacks(): Promise<void> {
    this.acking ??= this.sendAcks().finally(() => {
      this.acking = null;
    });
    return this.acking;
  }

  private async sendAcks(): Promise<void> {
    while (this.unackedCallbacks.length > 0) {
      const next = this.unackedCallbacks[0]!;
      const { acknowledged } = await this.client.api.claims.ackCallback.mutate({
        jobId: this.jobId!,
        id: next.request.id,
        outcome: next.outcome,
        ...(next.error ? { error: next.error.slice(0, 100_000) } : {}),
      });
      this.unackedCallbacks.shift();
      if (!acknowledged) this.logger.warn('callback lease had lapsed; another processor may run it again', { id: next.request.id });
    }
  }

  private numRunsDone(): boolean {
    if (this.config.numRuns === null) return false;
    const files = this.allFiles();
    const refreshed = [...this.views.values()].every((v) => v.refreshedAt > 0);
    return refreshed && this.queue.allDone(files) && this.parsing.size === 0 && this.results.size === 0 && this.callbacks.size === 0;
  }

  private async shutdown(): Promise<void> {
    const graceMs = 10_000;
    const inFlight = [...this.parsing, ...this.callbacks];
    if (inFlight.length) this.logger.info('finishing in-flight work', { parses: this.parsing.size, callbacks: this.callbacks.size, graceMs });
    for (const watcher of this.watchers.values()) watcher.close();
    await Promise.race([Promise.allSettled(inFlight), delay(graceMs)]);
    await this.pool.close();
    // Results and acknowledgements get one bounded chance; what cannot be sent is parsed again by the next processor.
    await Promise.race([this.drain(), delay(graceMs)]);
    if (this.jobId !== null) {
      await Promise.race([
        this.client.api.jobs.complete.mutate({ jobId: this.jobId, state: 'success' }).catch((error: unknown) =>
          this.logger.warn('could not mark the Job complete', { error: describeApiError(error) }),
        ),
        delay(graceMs),
      ]);
    }
    this.logger.info('processor stopped', { jobId: this.jobId, ...this.stats });
  }

  private async drain(): Promise<void> {
    this.results.flushNow();
    while (this.results.size > 0 && !this.health.down) await this.sleep(50);
    await this.ackPendingCallbacks().catch(() => {});
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function unixname(): string {
  try {
    return userInfo().username;
  } catch {
    // A container user without a passwd entry.
    return String(process.getuid?.() ?? 'unknown');
  }
}
