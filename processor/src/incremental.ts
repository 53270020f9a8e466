import { readFile, stat } from 'node:fs/promises';
import { canonicalJson, sha256Hex } from '@dagproc/shared';
import { isRacy, sha256 } from './bundles/hash.ts';
import type { LoadedModule, ParseDependencies, ParseOutcome } from './parse-pool.ts';

/**
 * Incremental parsing: a file whose DAGs are a function of its modules alone is not parsed
 * again until one of them changes.
 *
 * A file is *static* when its last parse succeeded, read no Variable or Connection, imported
 * no builtin that sees the outside world (fs, net, os, ...), had no import fail, and produced
 * the same serialized DAGs (canonical hash) as the parse before it, and whose last result the
 * API stored without refusing any of its DAG ids. A static file is parsed
 * again when its own bytes, the bytes of any bundle-local module its last parse loaded
 * (transitively: every module the isolate served), what one of its imports resolves to (a
 * file appearing where the resolver looked and found none), the bundle's version or its real
 * root change, or when DAGPROC_STATIC_REPARSE_INTERVAL has passed since its last parse.
 *
 * Checking costs a stat() per distinct module (shared helpers are stat'ed once for all their
 * importers) and a read only when a stat moved or cannot be trusted (see isRacy). A skipped
 * file sends nothing to the API: its DAGs keep their last_parsed_time, and the staleness rule
 * (a file that is not parsed never makes a DAG stale) keeps them fresh.
 */

export interface IncrementalOptions {
  enabled: boolean;
  /** DAGPROC_STATIC_REPARSE_INTERVAL in ms: a static file is parsed at least this often. */
  staticReparseIntervalMs: number;
}

/** One parse of a file, as incremental parsing remembers it. */
export interface ParseRecord {
  bundleVersion: string | null;
  /** The bundle's real root when the parse started: a moved root moves every module. */
  bundleRoot: string;
  /** sha256 of the canonical JSON of the file's DAGs; null for an import error. */
  dagsHash: string | null;
  /** null when the pool could not say what the parse read. */
  dependencies: ParseDependencies | null;
  /** Epoch ms. */
  parsedAt: number;
}

/** Why a file is not static, or null when it is. */
export type NotStaticReason =
  | 'import error'
  | 'no dependency report'
  | 'reads Variables or Connections'
  | 'imports a builtin that sees outside state'
  | 'an import failed'
  | 'first parse'
  | 'DAGs differ from the previous parse';

/** The static rule, on a file's last two parses (pure). */
export function notStaticReason(previous: ParseRecord | undefined, current: ParseRecord): NotStaticReason | null {
  if (current.dagsHash === null) return 'import error';
  const deps = current.dependencies;
  if (deps === null) return 'no dependency report';
  if (deps.readVariablesOrConnections) return 'reads Variables or Connections';
  if (deps.externalBuiltins.length > 0) return 'imports a builtin that sees outside state';
  if (deps.failedImports > 0) return 'an import failed';
  if (previous === undefined) return 'first parse';
  if (previous.dagsHash !== current.dagsHash) return 'DAGs differ from the previous parse';
  return null;
}

/** What changed around a static file before any file is looked at (pure); null when nothing. */
export function reparseReason(
  last: Pick<ParseRecord, 'bundleVersion' | 'bundleRoot' | 'parsedAt'>,
  now: { bundleVersion: string | null; bundleRoot: string; at: number; staticReparseIntervalMs: number },
): 'bundle version changed' | 'bundle root moved' | 'safety interval passed' | null {
  if (last.bundleVersion !== now.bundleVersion) return 'bundle version changed';
  if (last.bundleRoot !== now.bundleRoot) return 'bundle root moved';
  if (now.at - last.parsedAt >= now.staticReparseIntervalMs) return 'safety interval passed';
  return null;
}

export interface ObservedStat {
  isFile: boolean;
  dev: number;
  ino: number;
  mtimeMs: number;
  size: number;
}

/**
 * A module's recorded state against a fresh stat (pure): `same` when the stat alone proves
 * nothing changed, `changed` when it proves something did, `compare-bytes` when only the
 * bytes can tell (the mtime moved with the size unchanged, as a `touch` or a same-size edit
 * does, or the recorded mtime is too close to its read to be trusted).
 */
export function compareStat(recorded: LoadedModule, observed: ObservedStat | null): 'same' | 'changed' | 'compare-bytes' {
  if (observed === null || !observed.isFile) return 'changed';
  // Another file now answers at this path: a replaced file or a retargeted symlink, whose
  // relative imports may resolve elsewhere even with the same bytes.
  if (observed.dev !== recorded.dev || observed.ino !== recorded.ino) return 'changed';
  if (observed.size !== recorded.size) return 'changed';
  if (observed.mtimeMs !== recorded.mtimeMs) return 'compare-bytes';
  return isRacy(recorded.mtimeMs, recorded.readAt) ? 'compare-bytes' : 'same';
}

/** The canonical hash of a file's DAGs, as the static rule compares them. */
export function dagsHashOf(outcome: Pick<ParseOutcome, 'dags' | 'importError'>): string | null {
  return outcome.importError ? null : sha256Hex(canonicalJson(outcome.dags));
}

interface FileState {
  last: ParseRecord;
  notStatic: NotStaticReason | null;
  /**
   * The API did not store the last result as parsed: it dropped it, or another file owns one
   * of its DAG ids (this file takes the DAG over on a later parse once the owner lets go, so
   * it must keep being parsed). Kept across parses until a result is stored cleanly.
   */
  unsettled: boolean;
}

interface Observation {
  at: number;
  stat: Promise<ObservedStat | null>;
  /** sha256 of the bytes, read at most once per observation. */
  hash?: Promise<{ hash: string; readAt: number } | null>;
}

/** Stats and hashes are shared by every check within this window: one stat per helper per cycle. */
const OBSERVATION_TTL_MS = 1_000;

export class IncrementalParsing {
  private readonly files = new Map<string, FileState>();
  private readonly observations = new Map<string, Observation>();
  /** Counters for the progress line and tests. */
  readonly counts = { skipped: 0, checked: 0 };

  constructor(private readonly options: IncrementalOptions) {}

  get enabled(): boolean {
    return this.options.enabled;
  }

  /** Remembers a finished parse of a file. */
  record(bundleName: string, relativeFileloc: string, parse: { bundleVersion: string | null; bundleRoot: string; outcome: ParseOutcome; parsedAt: number }): void {
    const key = fileKey(bundleName, relativeFileloc);
    const current: ParseRecord = {
      bundleVersion: parse.bundleVersion,
      bundleRoot: parse.bundleRoot,
      dagsHash: dagsHashOf(parse.outcome),
      // Copied: compare() refreshes a module's stat in place once its bytes proved unchanged.
      dependencies: parse.outcome.dependencies
        ? { ...parse.outcome.dependencies, modules: parse.outcome.dependencies.modules.map((m) => ({ ...m })) }
        : null,
      parsedAt: parse.parsedAt,
    };
    const known = this.files.get(key);
    this.files.set(key, { last: current, notStatic: notStaticReason(known?.last, current), unsettled: known?.unsettled ?? false });
  }

  /** How the API took the file's latest result (see FileState.unsettled). */
  noteStored(bundleName: string, relativeFileloc: string, outcome: 'stored' | 'conflict' | 'dropped'): void {
    const state = this.files.get(fileKey(bundleName, relativeFileloc));
    if (state) state.unsettled = outcome !== 'stored';
  }

  /** Whether the file's last parse made it static. */
  isStatic(bundleName: string, relativeFileloc: string): boolean {
    const state = this.files.get(fileKey(bundleName, relativeFileloc));
    return state !== undefined && state.notStatic === null && !state.unsettled;
  }

  /**
   * Whether a due file can be skipped: it is static and nothing it depends on changed. Never
   * throws; anything it cannot check means "parse it".
   */
  async canSkip(bundleName: string, relativeFileloc: string, now: { bundleVersion: string | null; bundleRoot: string }): Promise<boolean> {
    if (!this.options.enabled) return false;
    const state = this.files.get(fileKey(bundleName, relativeFileloc));
    if (!state || state.notStatic !== null || state.unsettled || !state.last.dependencies) return false;
    this.counts.checked++;
    const at = Date.now();
    const due = reparseReason(state.last, { ...now, at, staticReparseIntervalMs: this.options.staticReparseIntervalMs });
    if (due !== null) return false;
    try {
      const results = await Promise.all(state.last.dependencies.modules.map((m) => this.unchanged(m)));
      if (results.includes(false)) return false;
    } catch {
      return false;
    }
    this.counts.skipped++;
    return true;
  }

  /**
   * Files whose last parse loaded `absolutePath`, or looked for a module there and found none:
   * what a file-system event at that path may change.
   */
  dependents(absolutePath: string): { bundleName: string; relativeFileloc: string }[] {
    const found: { bundleName: string; relativeFileloc: string }[] = [];
    for (const [key, state] of this.files) {
      const modules = state.last.dependencies?.modules ?? [];
      if (modules.some((m) => m.path === absolutePath || m.missing.includes(absolutePath))) {
        const [bundleName, relativeFileloc] = key.split('\u0000') as [string, string];
        found.push({ bundleName, relativeFileloc });
      }
    }
    return found;
  }

  /**
   * Drops the shared stat of paths an event says changed, so a check that follows the event
   * sees the change rather than a stat taken just before it.
   */
  invalidate(absolutePaths: Iterable<string>): void {
    for (const path of absolutePaths) this.observations.delete(path);
  }

  /** Forgets the files of `bundleName` not in `present` (its fresh listing). */
  forgetMissing(bundleName: string, present: Iterable<string>): void {
    const keep = new Set<string>();
    for (const relativeFileloc of present) keep.add(fileKey(bundleName, relativeFileloc));
    for (const key of this.files.keys()) if (key.startsWith(`${bundleName}\u0000`) && !keep.has(key)) this.files.delete(key);
  }

  forget(bundleName: string, relativeFileloc: string): void {
    this.files.delete(fileKey(bundleName, relativeFileloc));
  }

  get staticFiles(): number {
    let n = 0;
    for (const state of this.files.values()) if (state.notStatic === null && !state.unsettled) n++;
    return n;
  }

  private async unchanged(module: LoadedModule): Promise<boolean> {
    // A module appearing where the resolver found none would now be imported instead.
    for (const candidate of module.missing) {
      const seen = await this.observe(candidate).stat;
      if (seen?.isFile) return false;
    }
    const observation = this.observe(module.path);
    const verdict = compareStat(module, await observation.stat);
    if (verdict !== 'compare-bytes') return verdict === 'same';
    observation.hash ??= readFile(module.path).then(
      (bytes) => ({ hash: sha256(bytes), readAt: observation.at }),
      () => null,
    );
    const read = await observation.hash;
    if (read === null || read.hash !== module.contentHash) return false;
    // The same bytes: trust this stat from now on (unless it is itself too fresh to trust).
    const seen = (await observation.stat)!;
    module.mtimeMs = seen.mtimeMs;
    module.readAt = read.readAt;
    return true;
  }

  private observe(path: string): Observation {
    const now = Date.now();
    const known = this.observations.get(path);
    if (known && now - known.at < OBSERVATION_TTL_MS) return known;
    if (this.observations.size > 50_000) this.dropExpired(now);
    const observation: Observation = {
      at: now,
      stat: stat(path).then(
        (s) => ({ isFile: s.isFile(), dev: s.dev, ino: s.ino, mtimeMs: s.mtimeMs, size: s.size }),
        () => null,
      ),
    };
    this.observations.set(path, observation);
    return observation;
  }

  private dropExpired(now: number): void {
    for (const [path, observation] of this.observations) {
      if (now - observation.at >= OBSERVATION_TTL_MS) this.observations.delete(path);
    }
  }
}

function fileKey(bundleName: string, relativeFileloc: string): string {
  return `${bundleName}\u0000${relativeFileloc}`;
}
