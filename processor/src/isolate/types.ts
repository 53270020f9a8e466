import type { Logger } from '@dagproc/shared/log';
import type { SerializedDag } from '@dagproc/shared/dag/model';

export interface IsolatePoolOptions {
  /** `strict`: one fresh process per file or callback, killed after it. */
  mode: 'pooled' | 'strict';
  /** DAGPROC_PARSING_PROCESSES: the most processes alive at once, and so the most jobs at once. */
  size: number;
  /** DAGPROC_FILE_PARSE_TIMEOUT, in ms: a job's process is killed past it. */
  timeoutMs: number;
  /** Pooled mode: a process is recycled after this many files. */
  maxFilesPerProcess: number;
  /** `--max-old-space-size` of each process; a process whose RSS passes it after a job is recycled. */
  memoryLimitMb: number;
  /** The API server, for the SDK's Variable and Connection reads. */
  apiUrl: string;
  logger?: Logger;
  /** The SDK entry bundled into each process; the shared SDK unless a test or bench says otherwise. */
  sdkEntry?: string;
  /**
   * Pooled mode: a process idle this long (ms) is ended; one is started again when work comes.
   * Default IDLE_RETIRE_MS.
   */
  idleRetireMs?: number;
}

export interface ParseTask {
  bundleName: string;
  /** Absolute real path of the bundle's root folder: the only folder the process may read. */
  bundleRoot: string;
  relativeFileloc: string;
  /**
   * Called at most once per job, only when the file's code first reads a Variable or
   * Connection: returns the per-file bearer token.
   */
  fileToken: () => Promise<string>;
}

export interface ParseOutcome {
  dags: SerializedDag[];
  importError: { stacktrace: string } | null;
  durationMs: number;
  /**
   * What the parse read besides the file itself: incremental parsing decides from it whether
   * the file's result can change without the file changing. Absent when the pool could not
   * tell (the process died, a test pool), which counts as "read the outside world".
   */
  dependencies?: ParseDependencies;
}

/**
 * A bundle-local module a parse loaded (the DAG file itself included), as it was when the
 * processor read it for that parse.
 */
export interface LoadedModule {
  /** Absolute path the import resolved to, before symlinks are followed: the path to stat. */
  path: string;
  /**
   * Absolute paths the resolver tried before `path` and found no file at: one appearing later
   * would change what the import resolves to.
   */
  missing: string[];
  /** stat() of `path` (symlinks followed) when it was read. */
  dev: number;
  ino: number;
  mtimeMs: number;
  size: number;
  /** sha256 of the bytes the parse compiled. */
  contentHash: string;
  /** Epoch ms when those bytes were read: an mtime this close is not trusted (coarse clocks). */
  readAt: number;
}

export interface ParseDependencies {
  modules: LoadedModule[];
  /** The file's code read a Variable or a Connection (or tried to). */
  readVariablesOrConnections: boolean;
  /**
   * `node:` builtins the parse imported that can observe the outside world (fs, network,
   * os, ...): such a file's DAGs may change while no module changes.
   */
  externalBuiltins: string[];
  /** Imports that failed to load (caught by the file, or the parse failed). */
  failedImports: number;
}

/** What a DAG's onFailure/onSuccess callback is called with, as a callback request carries it. */
export interface CallbackContext {
  dagId: string;
  runId: string | null;
  callbackType: 'failure' | 'success';
  msg: string | null;
  /** JSON values (checked when the task is submitted). */
  context: Record<string, unknown>;
}

export interface CallbackTask extends ParseTask {
  dagId: string;
  callbackType: 'failure' | 'success';
  context: CallbackContext;
}

export interface CallbackOutcome {
  ok: boolean;
  error?: string;
  durationMs: number;
}
