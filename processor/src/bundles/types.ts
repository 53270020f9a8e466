/**
 * A DAG bundle, as Airflow's BaseDagBundle: a named source of DAG files that the processor
 * refreshes on an interval and lists. A local bundle is a folder; a git bundle fetches in
 * `refresh()` and exposes the checkout of its current commit as `root`.
 */
export interface DagBundle {
  readonly name: string;
  readonly kind: 'local' | 'git';
  /** Seconds between refreshes (for a local bundle: between re-listings of its files). */
  readonly refreshIntervalSeconds: number;
  /** Absolute real path the files are read from; the parser is allowed to read only here. */
  readonly root: string;
  /**
   * Brings the bundle up to date. `version` is the bundle's version after the refresh (a git
   * commit), null for a bundle without versions. `changed` is true on the first refresh and
   * whenever the version moved; a bundle without versions reports false after its first
   * refresh, so its files must be re-listed on every refresh whatever `changed` says.
   * Throws when the bundle cannot be read at all (its folder is gone, say): the caller must
   * then keep what it knew rather than treat every file as deleted.
   */
  refresh(): Promise<{ version: string | null; changed: boolean }>;
  /** The bundle's DAG files, sorted by relativeFileloc. Throws as `refresh()` does. */
  listFiles(): Promise<BundleFile[]>;
  /**
   * The tree a parse or a callback reads, and its version, held until `release()`: a git
   * bundle keeps that checkout on disk while it is held, even when the branch has moved on.
   */
  checkout(): BundleCheckout;
}

export interface BundleCheckout {
  /** Absolute real path: the bundle's root at the time of `checkout()`. */
  readonly root: string;
  readonly version: string | null;
  /** Idempotent. */
  release(): void;
}

export interface BundleFile {
  /** POSIX path relative to the bundle root: the `relative_fileloc` Airflow stores. */
  relativeFileloc: string;
  /** Always the bundle root joined with relativeFileloc (a symlinked file keeps its link path). */
  absolutePath: string;
  mtimeMs: number;
  size: number;
}

/** The bundle cannot be read at all: its root is missing, not a directory, or unreadable. */
export class BundleUnavailable extends Error {
  override name = 'BundleUnavailable';
  constructor(
    readonly bundleName: string,
    readonly root: string,
    readonly reason: string,
  ) {
    super(`bundle ${JSON.stringify(bundleName)}: ${root} ${reason}`);
  }
}
