import type { FileSortMode } from './config.ts';

/**
 * The file queue: which file to parse next. Pure logic, no I/O and no clock of its own (every
 * time is passed in, as epoch milliseconds), modelled on Airflow's DagFileProcessorManager
 * (`prepare_file_queue`, `_add_new_files_to_queue`, `_add_files_to_queue`,
 * `_queue_requested_files_for_parsing`, `max_runs_reached`).
 *
 * A file is identified by bundleName + relativeFileloc and is in at most one place: queued
 * once, or in progress (a priority request for a file being parsed waits in the queue until
 * that parse finishes, because the running parse may have read the file before the change
 * the request is about). The queue has three tiers, served in order:
 *   1. priority: files requested through the API, oldest request first;
 *   2. new: files never parsed (Airflow puts a bundle's new files at the front);
 *   3. due: files whose minFileProcessInterval has passed, each batch in the sort mode's order.
 */

export interface QueueFile {
  bundleName: string;
  relativeFileloc: string;
  mtimeMs: number;
}

export interface PriorityRequest {
  /** The `dag_priority_parsing_request` row id, passed on to the persist call. */
  id: number;
  bundleName: string;
  relativeFileloc: string;
}

export type QueueTier = 'priority' | 'new' | 'due';

export interface QueueEntry {
  readonly bundleName: string;
  readonly relativeFileloc: string;
  readonly tier: QueueTier;
  /** The priority requests this parse answers (the persist call deletes them); often empty. */
  readonly priorityRequestIds: number[];
  /** The file's mtime in the listing it was queued from; null when only requested. */
  readonly mtimeMs: number | null;
}

export interface FileStat {
  runCount: number;
  lastStartedAt: number | null;
  lastFinishedAt: number | null;
  /** The mtime the file was listed with when its last parse started; null when unknown. */
  lastStartedMtimeMs: number | null;
}

export interface FileQueueOptions {
  sortMode: FileSortMode;
  /** Seconds: a file is not parsed again sooner than this after its last parse finished. */
  minFileProcessInterval: number;
  /** Seeds `random_seeded_by_host`, so processors on different hosts start on different files. */
  hostname: string;
  /** --num-runs: a file parsed this many times is not queued again (priority requests aside). */
  numRuns?: number | null;
}

export class FileQueue {
  private readonly tiers: Record<QueueTier, Map<string, QueueEntry>> = {
    priority: new Map(),
    new: new Map(),
    due: new Map(),
  };
  private readonly inProgress = new Map<string, QueueEntry>();
  private readonly stats = new Map<string, FileStat>();

  constructor(private readonly options: FileQueueOptions) {}

  /**
   * Queues the files of `files` (the current listing of every bundle) that are due at `now`:
   * never parsed, or last finished at least minFileProcessInterval ago. Files queued or in
   * progress already are left where they are, so this can run on every loop. Returns how many
   * files it queued.
   *
   * In `modified_time` mode a file modified since its last parse started is due at once,
   * whatever the interval: Airflow's prepare_file_queue does the same ("exclude recently
   * processed unless changed recently"). The other modes wait for the interval, as Airflow's.
   * Airflow tests `mtime > last finish`; here a change is an mtime different from the one the
   * last parse was queued with, which also catches an older mtime restored by a copy and is
   * not fooled into re-parsing on every loop by an mtime in the future.
   */
  enqueueDue(files: readonly QueueFile[], now: number): number {
    const fresh: QueueFile[] = [];
    const due: QueueFile[] = [];
    const intervalMs = this.options.minFileProcessInterval * 1000;
    const numRuns = this.options.numRuns ?? null;
    for (const file of files) {
      const key = fileKey(file.bundleName, file.relativeFileloc);
      if (this.inProgress.has(key) || this.isQueued(key)) continue;
      const stat = this.stats.get(key);
      if (!stat) {
        fresh.push(file);
        continue;
      }
      if (numRuns !== null && stat.runCount >= numRuns) continue;
      const last = stat.lastFinishedAt;
      const intervalPassed = last === null || now - last >= intervalMs;
      const changedSinceParse = this.options.sortMode === 'modified_time' && changedSince(stat, file.mtimeMs, now);
      if (intervalPassed || changedSinceParse) due.push(file);
    }
    for (const file of this.sorted(fresh)) this.add('new', file);
    for (const file of this.sorted(due)) this.add('due', file);
    return fresh.length + due.length;
  }

  /**
   * Queues files seen to change (a file-system event), whatever the interval, at the front of
   * the due tier. A file queued already stays where it is; a file being parsed is queued again,
   * to start once that parse finishes (it may have read the file before the change).
   */
  enqueueChanged(files: readonly QueueFile[]): number {
    const added = new Map<string, QueueEntry>();
    for (const file of files) {
      const key = fileKey(file.bundleName, file.relativeFileloc);
      if (this.isQueued(key) || added.has(key)) continue;
      added.set(key, { bundleName: file.bundleName, relativeFileloc: file.relativeFileloc, tier: 'due', priorityRequestIds: [], mtimeMs: file.mtimeMs });
    }
    if (added.size === 0) return 0;
    const rest = [...this.tiers.due];
    this.tiers.due.clear();
    for (const [k, v] of [...added, ...rest]) this.tiers.due.set(k, v);
    return added.size;
  }

  /**
   * Queues requested files ahead of everything else, in request order. Several requests for
   * one file make one entry carrying all their ids; a file queued already moves up into the
   * priority tier. The caller checks that a requested file exists in its bundle first.
   */
  enqueuePriority(requests: readonly PriorityRequest[]): void {
    for (const request of requests) {
      const key = fileKey(request.bundleName, request.relativeFileloc);
      const existing = this.tiers.priority.get(key);
      if (existing) {
        if (!existing.priorityRequestIds.includes(request.id)) existing.priorityRequestIds.push(request.id);
        continue;
      }
      const earlier = this.tiers.new.get(key) ?? this.tiers.due.get(key);
      this.tiers.new.delete(key);
      this.tiers.due.delete(key);
      this.tiers.priority.set(key, {
        bundleName: request.bundleName,
        relativeFileloc: request.relativeFileloc,
        tier: 'priority',
        priorityRequestIds: [...(earlier?.priorityRequestIds ?? []), request.id],
        mtimeMs: earlier?.mtimeMs ?? null,
      });
    }
  }

  /**
   * Takes the first queued file that is not being parsed and marks it in progress from `now`
   * (popping and starting are one step, so no file is ever handed out twice). Undefined when
   * nothing can start. Finish it with `markFinished`, or put it back with `release`.
   */
  next(now: number): QueueEntry | undefined {
    for (const tier of ['priority', 'new', 'due'] as const) {
      for (const [key, entry] of this.tiers[tier]) {
        if (this.inProgress.has(key)) continue;
        this.tiers[tier].delete(key);
        this.inProgress.set(key, entry);
        const stat = this.statFor(key);
        stat.lastStartedAt = now;
        stat.lastStartedMtimeMs = entry.mtimeMs;
        return entry;
      }
    }
    return undefined;
  }

  /**
   * Records a finished parse of `entry`: its run count and finish time, from which the
   * interval runs. A parse that timed out or failed counts too, as in Airflow, so a broken
   * file is retried at the interval rather than in a tight loop. Returns false (and records
   * nothing) when the file was forgotten while it was being parsed.
   */
  markFinished(entry: QueueEntry, now: number): boolean {
    const key = fileKey(entry.bundleName, entry.relativeFileloc);
    if (this.inProgress.get(key) !== entry) return false;
    this.inProgress.delete(key);
    const stat = this.statFor(key);
    stat.runCount += 1;
    stat.lastFinishedAt = now;
    return true;
  }

  /**
   * Puts back a file that `next` handed out but that never got parsed (the parse could not
   * start), at the front of its tier and with its request ids; it does not count as a run.
   */
  release(entry: QueueEntry): void {
    const key = fileKey(entry.bundleName, entry.relativeFileloc);
    if (this.inProgress.get(key) !== entry) return;
    this.inProgress.delete(key);
    // A request that arrived while the file was out waits in the priority tier: one entry
    // takes both, at the front of the priority tier.
    const waiting = this.tiers.priority.get(key);
    this.tiers.priority.delete(key);
    const tierName = waiting ? 'priority' : entry.tier;
    const merged: QueueEntry = {
      ...entry,
      tier: tierName,
      priorityRequestIds: [...new Set([...entry.priorityRequestIds, ...(waiting?.priorityRequestIds ?? [])])],
    };
    const tier = this.tiers[tierName];
    const rest = [...tier];
    tier.clear();
    tier.set(key, merged);
    for (const [k, v] of rest) tier.set(k, v);
  }

  /**
   * Forgets a file deleted from its bundle: its queue entry, its counts, and its in-progress
   * mark (a parse of it that finishes later records nothing). Returns the priority request ids
   * of the dropped queue entry, which no parse will answer now; the ids of an entry in progress
   * stay with whoever holds that entry.
   */
  forget(bundleName: string, relativeFileloc: string): number[] {
    const key = fileKey(bundleName, relativeFileloc);
    const ids: number[] = [];
    for (const tier of Object.values(this.tiers)) {
      const entry = tier.get(key);
      if (entry) ids.push(...entry.priorityRequestIds);
      tier.delete(key);
    }
    this.inProgress.delete(key);
    this.stats.delete(key);
    return ids;
  }

  /**
   * Forgets every file of `bundleName` that is not in `present` (the bundle's fresh listing,
   * as relativeFilelocs), as Airflow's handle_removed_files. Returns the forgotten files and
   * the priority request ids no parse will answer.
   */
  forgetMissing(
    bundleName: string,
    present: Iterable<string>,
  ): { forgotten: string[]; priorityRequestIds: number[] } {
    const keep = new Set<string>();
    for (const relativeFileloc of present) keep.add(fileKey(bundleName, relativeFileloc));
    const gone = new Set<string>();
    const consider = (key: string) => {
      if (key.startsWith(bundleName + '\0') && !keep.has(key)) gone.add(key);
    };
    for (const key of this.stats.keys()) consider(key);
    for (const key of this.inProgress.keys()) consider(key);
    for (const tier of Object.values(this.tiers)) for (const key of tier.keys()) consider(key);
    const forgotten: string[] = [];
    const priorityRequestIds: number[] = [];
    for (const key of [...gone].sort()) {
      const relativeFileloc = key.slice(bundleName.length + 1);
      forgotten.push(relativeFileloc);
      priorityRequestIds.push(...this.forget(bundleName, relativeFileloc));
    }
    return { forgotten, priorityRequestIds };
  }

  /**
   * --num-runs: whether every file of `files` has been parsed numRuns times, with no parse
   * running and no priority request waiting, as Airflow's max_runs_reached. Always false when
   * there is no numRuns. With no files at all it is true: the caller decides that it has
   * listed its bundles before asking.
   */
  allDone(files: readonly Pick<QueueFile, 'bundleName' | 'relativeFileloc'>[]): boolean {
    const numRuns = this.options.numRuns ?? null;
    if (numRuns === null) return false;
    if (this.inProgress.size > 0 || this.tiers.priority.size > 0) return false;
    return files.every((f) => (this.stats.get(fileKey(f.bundleName, f.relativeFileloc))?.runCount ?? 0) >= numRuns);
  }

  /** Counts and times of a file, or undefined if it was never started. */
  fileStat(bundleName: string, relativeFileloc: string): Readonly<FileStat> | undefined {
    return this.stats.get(fileKey(bundleName, relativeFileloc));
  }

  isInProgress(bundleName: string, relativeFileloc: string): boolean {
    return this.inProgress.has(fileKey(bundleName, relativeFileloc));
  }

  /** Queued entries, in the order they would be served (in-progress files aside). */
  queued(): QueueEntry[] {
    return [...this.tiers.priority.values(), ...this.tiers.new.values(), ...this.tiers.due.values()];
  }

  get size(): number {
    return this.tiers.priority.size + this.tiers.new.size + this.tiers.due.size;
  }

  get inProgressCount(): number {
    return this.inProgress.size;
  }

  private isQueued(key: string): boolean {
    return this.tiers.priority.has(key) || this.tiers.new.has(key) || this.tiers.due.has(key);
  }

  private add(tier: 'new' | 'due', file: QueueFile): void {
    const key = fileKey(file.bundleName, file.relativeFileloc);
    this.tiers[tier].set(key, {
      bundleName: file.bundleName,
      relativeFileloc: file.relativeFileloc,
      tier,
      priorityRequestIds: [],
      mtimeMs: file.mtimeMs,
    });
  }

  private statFor(key: string): FileStat {
    let stat = this.stats.get(key);
    if (!stat) {
      stat = { runCount: 0, lastStartedAt: null, lastFinishedAt: null, lastStartedMtimeMs: null };
      this.stats.set(key, stat);
    }
    return stat;
  }

  private sorted(files: QueueFile[]): QueueFile[] {
    return sortFiles(files, this.options.sortMode, this.options.hostname);
  }
}

/**
 * Whether a file listed with `mtimeMs` changed since its last parse started. When that parse
 * came from a bare request (its mtime unknown), an mtime after the start counts, unless it is
 * in the future, which a skewed clock or a copied file can produce and which would otherwise
 * hold on every loop.
 */
function changedSince(stat: FileStat, mtimeMs: number, now: number): boolean {
  if (stat.lastStartedAt === null) return false;
  if (stat.lastStartedMtimeMs !== null) return mtimeMs !== stat.lastStartedMtimeMs;
  return mtimeMs > stat.lastStartedAt && mtimeMs <= now;
}

/** NUL cannot occur in a bundle name or a relativeFileloc, so the key is unambiguous. */
function fileKey(bundleName: string, relativeFileloc: string): string {
  return `${bundleName}\0${relativeFileloc}`;
}

/**
 * Orders files for parsing. `modified_time`: most recently modified first. `alphabetical`: by
 * relativeFileloc. `random_seeded_by_host`: a shuffle fixed per host, so processors on several
 * hosts start on different files; Airflow shuffles the list with the hostname as seed, and here
 * each file's place comes from a hash of hostname and file, so the order stays the same for
 * every batch of files whatever else is in it. Ties fall back to bundle then path.
 */
export function sortFiles(files: readonly QueueFile[], mode: FileSortMode, hostname: string): QueueFile[] {
  const byName = (a: QueueFile, b: QueueFile) =>
    compare(a.relativeFileloc, b.relativeFileloc) || compare(a.bundleName, b.bundleName);
  if (mode === 'modified_time') return [...files].sort((a, b) => b.mtimeMs - a.mtimeMs || byName(a, b));
  if (mode === 'alphabetical') return [...files].sort(byName);
  const rank = new Map(files.map((f) => [f, hash53(`${hostname}\0${f.bundleName}\0${f.relativeFileloc}`)]));
  return [...files].sort((a, b) => rank.get(a)! - rank.get(b)! || byName(a, b));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** cyrb53: a fast, well-mixed 53-bit string hash; only its spread matters here. */
function hash53(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
