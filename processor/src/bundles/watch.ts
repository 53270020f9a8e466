import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { silentLogger, type Logger } from '@dagproc/shared/log';

/** What changed in a bundle since the last batch. */
export interface WatchBatch {
  /** Absolute paths (under the watched root) that an event named. */
  paths: Set<string>;
  /**
   * Files may have appeared or gone (a rename event, or an event without a name): the bundle
   * should be listed again rather than trusted.
   */
  relist: boolean;
}

export interface BundleWatcherOptions {
  bundleName: string;
  onBatch: (batch: WatchBatch) => void;
  logger?: Logger;
  /** Events are gathered this long after the last one (an editor's save is several events). */
  debounceMs?: number;
  /** ...but a batch is never held longer than this after its first event. */
  maxWaitMs?: number;
  /** For tests: the fs.watch to use. */
  watchFn?: typeof watch;
}

/**
 * Watches a local bundle's folder (recursively) so a changed, added or removed file is queued
 * within about a second instead of at the next listing. Only a trigger: watchers drop events
 * (overflowing inotify queues, directories symlinked in, network mounts), so the periodic
 * listing and the file queue stay the source of truth. When the folder cannot be watched
 * (ENOSPC: too many inotify watches; EMFILE; a platform without recursive watch) it logs one
 * warning and the bundle is left to polling.
 */
export class BundleWatcher {
  private watcher: FSWatcher | null = null;
  private root: string | null = null;
  private failedRoot: string | null = null;
  private pending: WatchBatch = { paths: new Set(), relist: false };
  private timer: NodeJS.Timeout | null = null;
  private firstEventAt = 0;
  private readonly logger: Logger;
  private readonly debounceMs: number;
  private readonly maxWaitMs: number;
  private readonly watchFn: typeof watch;

  constructor(private readonly options: BundleWatcherOptions) {
    this.logger = options.logger ?? silentLogger;
    this.debounceMs = options.debounceMs ?? 100;
    this.maxWaitMs = options.maxWaitMs ?? 500;
    this.watchFn = options.watchFn ?? watch;
  }

  /** Whether events are being received (false after a failure: the bundle is polled). */
  get active(): boolean {
    return this.watcher !== null;
  }

  /**
   * Watches `root` (the bundle's real root), restarting when it moved. A root that failed is
   * not tried again until the root changes, so a full inotify table costs one warning.
   */
  watch(root: string): void {
    if (this.root === root && this.watcher) return;
    if (this.failedRoot === root) return;
    this.stopWatcher();
    try {
      const watcher = this.watchFn(root, { recursive: true, persistent: false }, (eventType, filename) =>
        this.onEvent(root, eventType, filename),
      );
      watcher.on('error', (error) => this.fail(root, error));
      this.watcher = watcher;
      this.root = root;
      this.failedRoot = null;
      this.logger.debug('watching bundle folder', { bundleName: this.options.bundleName, root });
    } catch (error) {
      this.fail(root, error);
    }
  }

  close(): void {
    this.stopWatcher();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private onEvent(root: string, eventType: string, filename: string | Buffer | null): void {
    if (filename === null) {
      this.pending.relist = true;
    } else {
      const name = typeof filename === 'string' ? filename : filename.toString('utf8');
      this.pending.paths.add(path.join(root, name));
      if (eventType === 'rename') this.pending.relist = true;
    }
    const now = Date.now();
    if (!this.timer) this.firstEventAt = now;
    else clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.debounceMs, this.firstEventAt + this.maxWaitMs - now));
    this.timer = setTimeout(() => this.flush(), wait);
    this.timer.unref();
  }

  private flush(): void {
    this.timer = null;
    const batch = this.pending;
    this.pending = { paths: new Set(), relist: false };
    if (batch.paths.size === 0 && !batch.relist) return;
    try {
      this.options.onBatch(batch);
    } catch (error) {
      this.logger.error('handling file-system events failed', { bundleName: this.options.bundleName, error });
    }
  }

  private fail(root: string, error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code;
    this.stopWatcher();
    this.failedRoot = root;
    this.root = null;
    const hint = code === 'ENOSPC' ? ' (the inotify watch limit is reached: raise fs.inotify.max_user_watches)' : '';
    this.logger.warn(`cannot watch the bundle folder${hint}; its changes are found by listing it`, {
      bundleName: this.options.bundleName,
      root,
      error: code ?? (error instanceof Error ? error.message : String(error)),
    });
    // Whatever happened before the failure may be lost: list again.
    this.pending.relist = true;
    this.flush();
  }

  private stopWatcher(): void {
    const watcher = this.watcher;
    this.watcher = null;
    try {
      watcher?.close();
    } catch {
      // Closing a watcher that already failed.
    }
  }
}

/**
 * The listed files a batch of events may change (pure): the DAG files it names, and the files
 * whose last parse loaded a module it names or looked for one there (`dependents`).
 */
export function filesAffected(
  batch: WatchBatch,
  root: string,
  listed: readonly { relativeFileloc: string; mtimeMs: number }[],
  dependents: (absolutePath: string) => { relativeFileloc: string }[],
): { relativeFileloc: string; mtimeMs: number }[] {
  const byName = new Map(listed.map((f) => [f.relativeFileloc, f]));
  const affected = new Map<string, { relativeFileloc: string; mtimeMs: number }>();
  for (const absolutePath of batch.paths) {
    const relative = path.relative(root, absolutePath).split(path.sep).join('/');
    const own = byName.get(relative);
    if (own) affected.set(own.relativeFileloc, own);
    for (const dependent of dependents(absolutePath)) {
      const file = byName.get(dependent.relativeFileloc);
      if (file) affected.set(file.relativeFileloc, file);
    }
  }
  return [...affected.values()];
}
