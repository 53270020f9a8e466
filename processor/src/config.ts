import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, logFormat, parseDuration, parseEnv, positiveInt, seconds, urlString } from '@dagproc/shared/config/env';
import { bundleName } from '@dagproc/shared/names';
import { PERSIST_BATCH_MAX_FILES } from '@dagproc/shared/schemas/parsing';
import { reconcileBundlesInput } from '@dagproc/shared/schemas/bundles';
import { connId } from '@dagproc/shared/schemas/execution';
import type { LogFormat, LogLevel } from '@dagproc/shared/log';
import { unsafeGrantPath } from './isolate/flags.ts';

/**
 * The processor's configuration: DESIGN.md's processor settings plus the processor-only
 * settings below, parsed once at start. A bad value stops startup with one line naming the
 * setting. The processor runs user code, so this schema never names the database URL or the
 * signing-key settings: parseEnv only reads the keys a schema names, and the server's secrets
 * therefore cannot reach the processor's configuration even when they are in its environment.
 *
 * Settings beyond DESIGN.md's table (for the README's configuration table):
 *   DAGPROC_BUNDLE_REFRESH_INTERVAL  10 (s)          how often a local bundle is re-listed; a
 *                                                     bundle's own `refreshInterval` overrides it
 *   DAGPROC_FILE_SORT_MODE           modified_time   modified_time | alphabetical |
 *                                                     random_seeded_by_host (Airflow's
 *                                                     file_parsing_sort_mode)
 *   DAGPROC_MAX_CALLBACKS_PER_LOOP   20              callbacks claimed per loop
 *   DAGPROC_PARSING_MODE             pooled          pooled | strict (one process per file)
 *   DAGPROC_ISOLATE_MAX_FILES        500             files a pooled process parses before it
 *                                                     is recycled
 *   DAGPROC_ISOLATE_MEMORY_LIMIT_MB  512             memory limit of a parse process, MiB
 *   DAGPROC_PROCESSOR_GROUP          default         the processor group whose configured
 *                                                     bundles these are; a processor only
 *                                                     deactivates bundles of its own group
 *   DAGPROC_BUNDLE_STORAGE_PATH      $TMPDIR/dagproc-bundles   where git bundles keep their
 *                                                     repositories and checkouts (Airflow's
 *                                                     dag_bundle_storage_path)
 *   DAGPROC_PERSIST_BATCH_SIZE       20              parse results per persist request (1 to
 *                                                     100; 1 sends each file on its own)
 *   DAGPROC_LOG_LEVEL                info            debug | info | warn | error
 *   DAGPROC_INCREMENTAL_PARSING      true            skip static files whose modules did not
 *                                                     change (processor/src/incremental.ts)
 *   DAGPROC_STATIC_REPARSE_INTERVAL  600 (s)         a static file is parsed at least this often
 *   DAGPROC_FILE_WATCH               true            watch local bundles' folders, so a change is
 *                                                     queued at once (listing stays the safety net)
 *   DAGPROC_LOG_FORMAT               (terminal)      json | pretty; unset: pretty on a TTY
 *   DAGPROC_PROCESSOR_HEALTH_PORT    unset (off)     port of the local /health and /metrics
 *   DAGPROC_PROCESSOR_HEALTH_HOST    127.0.0.1       address that port binds to
 *   DAGPROC_PRINT_STATS_INTERVAL     30 (s)          the file-processing stats line; 0: off
 *   DAGPROC_DRY_RUN                  false           as --dry-run: parse, write nothing
 */

export const FILE_SORT_MODES = ['modified_time', 'alphabetical', 'random_seeded_by_host'] as const;
export type FileSortMode = (typeof FILE_SORT_MODES)[number];
export const PARSING_MODES = ['pooled', 'strict'] as const;
export type ParsingMode = (typeof PARSING_MODES)[number];
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const satisfies readonly LogLevel[];

export interface LocalBundleConfig {
  kind: 'local';
  name: string;
  /** Absolute real path (symlinks resolved) of an existing directory, at start. */
  path: string;
  /** The folder as configured, made absolute but not resolved (see LocalDagBundle). */
  configuredPath: string;
  /** Seconds between re-listings of the bundle's files. */
  refreshInterval: number;
}

export interface GitBundleConfig {
  kind: 'git';
  name: string;
  /** The repository; never holds a password (credentials come from the Connection `connId`). */
  url: string;
  /**
   * What to track: at most one of branch, tag and commit is set; none means the remote's
   * default branch. A branch moves; a tag or a commit is a pin, fetched once.
   */
  branch: string | null;
  tag: string | null;
  /** A full commit id (40 or 64 hex digits). */
  commit: string | null;
  /** A POSIX path inside the repository holding the DAG files; null for the whole repository. */
  subdir: string | null;
  /**
   * The Connection holding the credentials (as Airflow's git_conn_id), read through the
   * Execution API before each fetch; null for a repository that needs none.
   */
  connId: string | null;
  /** Seconds between fetches. */
  refreshInterval: number;
}

export type BundleConfig = LocalBundleConfig | GitBundleConfig;

export interface ProcessorConfig {
  apiUrl: string;
  /** Absolute, but deliberately not realpath'd: a minter may swap a symlinked file under it. */
  apiTokenPath: string;
  /** Every bundle configured for this processor group, in configuration order. */
  configuredBundles: BundleConfig[];
  /** The bundles this processor parses: `configuredBundles`, or those named by --bundle-name. */
  bundles: BundleConfig[];
  /**
   * The --bundle-name selection, or null for all. A processor that parses only some bundles
   * sees only part of its group's configuration, so (as Airflow) it must not deactivate the
   * bundles it does not see.
   */
  bundleNameFilter: string[] | null;
  /** --num-runs: parse each file this many times, then exit 0; null to run until stopped. */
  numRuns: number | null;
  /**
   * --dry-run: parse every file as usual (isolation included) but write nothing through the API:
   * no Job, no bundle reconcile or sync, no claims, no stale sweep, no persisted results. A
   * diagnostic mode (does the bundle parse, how fast), and the parse-only row of `pnpm bench`.
   */
  dryRun: boolean;
  parsingProcesses: number;
  /** Seconds; all durations below are whole seconds. */
  minFileProcessInterval: number;
  fileParseTimeout: number;
  staleDagThreshold: number;
  heartbeatInterval: number;
  bundleRefreshInterval: number;
  fileSortMode: FileSortMode;
  maxCallbacksPerLoop: number;
  parsingMode: ParsingMode;
  isolateMaxFiles: number;
  isolateMemoryLimitMb: number;
  processorGroup: string;
  /** Absolute; git bundles keep their repository and checkouts under `<path>/<bundle name>/`. */
  bundleStoragePath: string;
  /** Parse results sent per `parsing.persistMany` request; 1 sends each with `parsing.persist`. */
  persistBatchSize: number;
  logLevel: LogLevel;
  /** DAGPROC_INCREMENTAL_PARSING: static files are parsed only when something they read changed. */
  incrementalParsing: boolean;
  /** Seconds: a static file is parsed again at least this often. */
  staticReparseInterval: number;
  /** DAGPROC_FILE_WATCH: local bundles' folders are watched for changes. */
  fileWatch: boolean;
  /** Unset: pretty on a terminal, JSON lines elsewhere. */
  logFormat?: LogFormat | undefined;
  /** The local health endpoint's port (/health, /metrics), or null when it is off. */
  healthPort: number | null;
  healthHost: string;
  /** Seconds: /health answers 503 when the last good heartbeat (or loop turn) is older. */
  healthCheckThreshold: number;
  /** Seconds between stats lines; 0 prints none. */
  printStatsInterval: number;
}

const DAY = 86_400;

/**
 * `seconds` from the shared helpers, bounded: a slip of the keyboard must not make a timer
 * longer than Node's ~24.8-day limit (it would fire at once) or a threshold the server refuses.
 */
const boundedSeconds = (defaultValue: number, min: number, max: number) =>
  seconds(defaultValue).refine(
    (value) => value >= min && value <= max,
    `must be from ${min} to ${max} seconds`,
  );

const oneOf = <T extends string>(values: readonly [T, ...T[]], defaultValue: T) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return defaultValue;
      const value = raw.toLowerCase() as T;
      if (values.includes(value)) return value;
      ctx.addIssue({ code: 'custom', message: `must be one of ${values.join(', ')}` });
      return z.NEVER;
    });

const trueOrFalse = (defaultValue: boolean) =>
  oneOf(['true', 'false'], defaultValue ? 'true' : 'false').transform((value) => value === 'true');

const TOKEN_PATH_REQUIRED =
  'required — the path of the token file that `pnpm dagproc provision-token --out FILE` writes';

const processorEnv = z.object({
  DAGPROC_API_URL: urlString('http://127.0.0.1:8080'),
  DAGPROC_API_TOKEN_PATH: z.string({ error: TOKEN_PATH_REQUIRED }),
  DAGPROC_DAGS_FOLDER: z.string().default('dags'),
  DAGPROC_PARSING_PROCESSES: positiveInt(2, 256),
  DAGPROC_MIN_FILE_PROCESS_INTERVAL: boundedSeconds(30, 0, 30 * DAY),
  DAGPROC_FILE_PARSE_TIMEOUT: boundedSeconds(50, 1, DAY),
  // The server refuses a persist whose threshold is above 30 days; refuse it here, at start.
  DAGPROC_STALE_DAG_THRESHOLD: boundedSeconds(50, 0, 30 * DAY),
  DAGPROC_HEARTBEAT_INTERVAL: boundedSeconds(5, 1, 3600),
  DAGPROC_BUNDLE_REFRESH_INTERVAL: boundedSeconds(10, 0, DAY),
  DAGPROC_FILE_SORT_MODE: oneOf(FILE_SORT_MODES, 'modified_time'),
  // The server's claim endpoints take at most 1000 at a time.
  DAGPROC_MAX_CALLBACKS_PER_LOOP: positiveInt(20, 1000),
  DAGPROC_PARSING_MODE: oneOf(PARSING_MODES, 'pooled'),
  DAGPROC_ISOLATE_MAX_FILES: positiveInt(500, 1_000_000),
  DAGPROC_ISOLATE_MEMORY_LIMIT_MB: positiveInt(512, 1_048_576).refine(
    (mb) => mb >= 64,
    'must be at least 64 (MiB): a Node process needs that much to start',
  ),
  DAGPROC_PROCESSOR_GROUP: z
    .string()
    .default('default')
    .pipe(reconcileBundlesInput.shape.group),
  DAGPROC_BUNDLE_STORAGE_PATH: z
    .string()
    .min(1, 'must not be empty')
    // Checkouts under it become parse processes' read grants.
    .superRefine((path, ctx) => {
      const unsafe = unsafeGrantPath(path);
      if (unsafe) ctx.addIssue({ code: 'custom', message: unsafe });
    })
    .optional(),
  // The server takes at most PERSIST_BATCH_MAX_FILES results per request.
  DAGPROC_PERSIST_BATCH_SIZE: positiveInt(20, PERSIST_BATCH_MAX_FILES),
  DAGPROC_LOG_LEVEL: oneOf(LOG_LEVELS, 'info'),
  DAGPROC_INCREMENTAL_PARSING: trueOrFalse(true),
  DAGPROC_STATIC_REPARSE_INTERVAL: boundedSeconds(600, 1, 30 * DAY),
  DAGPROC_FILE_WATCH: trueOrFalse(true),
  DAGPROC_LOG_FORMAT: logFormat(),
  DAGPROC_PROCESSOR_HEALTH_PORT: z
    .string()
    .optional()
    .refine((v) => v === undefined || (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 65_535), 'must be a port number from 1 to 65535')
    .transform((v) => (v === undefined ? null : Number(v))),
  DAGPROC_PROCESSOR_HEALTH_HOST: z.string().default('127.0.0.1'),
  DAGPROC_HEALTH_CHECK_THRESHOLD: boundedSeconds(30, 1, DAY),
  DAGPROC_PRINT_STATS_INTERVAL: boundedSeconds(30, 0, DAY),
  DAGPROC_DRY_RUN: trueOrFalse(false),
});

/**
 * Reads the processor's configuration from `env` and its command-line `argv` (the arguments
 * after the script, as `process.argv.slice(2)`). Relative paths resolve against `cwd`.
 * Checks what can be checked at start (bundle folders exist, the token file is readable) so a
 * mistake stops startup rather than surfacing on the first parse.
 */
export function loadProcessorConfig(
  env: Record<string, string | undefined>,
  argv: readonly string[],
  cwd: string = process.cwd(),
): ProcessorConfig {
  const parsed = parseEnv(processorEnv, env);
  const flags = parseFlags(argv);
  const apiTokenPath = checkTokenPath(resolve(cwd, parsed.DAGPROC_API_TOKEN_PATH));

  const rawBundles = env.DAGPROC_BUNDLES?.trim();
  const configuredBundles = rawBundles
    ? parseBundles(rawBundles, parsed.DAGPROC_BUNDLE_REFRESH_INTERVAL, cwd)
    : [defaultBundle(resolve(cwd, parsed.DAGPROC_DAGS_FOLDER), parsed.DAGPROC_BUNDLE_REFRESH_INTERVAL)];

  const bundleStoragePath = resolve(cwd, parsed.DAGPROC_BUNDLE_STORAGE_PATH ?? join(tmpdir(), 'dagproc-bundles'));
  refuseTokenInsideBundle(apiTokenPath, configuredBundles);

  let bundles = configuredBundles;
  if (flags.bundleNames !== null) {
    const configured = new Set(configuredBundles.map((b) => b.name));
    for (const name of flags.bundleNames) {
      if (!configured.has(name)) {
        throw new ConfigError(
          `--bundle-name: ${JSON.stringify(name)} is not a configured bundle (configured: ${[...configured].join(', ')})`,
        );
      }
    }
    const wanted = new Set(flags.bundleNames);
    bundles = configuredBundles.filter((b) => wanted.has(b.name));
  }

  return {
    apiUrl: parsed.DAGPROC_API_URL,
    apiTokenPath,
    configuredBundles,
    bundles,
    bundleNameFilter: flags.bundleNames,
    numRuns: flags.numRuns,
    dryRun: flags.dryRun || parsed.DAGPROC_DRY_RUN,
    parsingProcesses: parsed.DAGPROC_PARSING_PROCESSES,
    minFileProcessInterval: parsed.DAGPROC_MIN_FILE_PROCESS_INTERVAL,
    fileParseTimeout: parsed.DAGPROC_FILE_PARSE_TIMEOUT,
    staleDagThreshold: parsed.DAGPROC_STALE_DAG_THRESHOLD,
    heartbeatInterval: parsed.DAGPROC_HEARTBEAT_INTERVAL,
    bundleRefreshInterval: parsed.DAGPROC_BUNDLE_REFRESH_INTERVAL,
    fileSortMode: parsed.DAGPROC_FILE_SORT_MODE,
    maxCallbacksPerLoop: parsed.DAGPROC_MAX_CALLBACKS_PER_LOOP,
    parsingMode: parsed.DAGPROC_PARSING_MODE,
    isolateMaxFiles: parsed.DAGPROC_ISOLATE_MAX_FILES,
    isolateMemoryLimitMb: parsed.DAGPROC_ISOLATE_MEMORY_LIMIT_MB,
    processorGroup: parsed.DAGPROC_PROCESSOR_GROUP,
    bundleStoragePath,
    persistBatchSize: parsed.DAGPROC_PERSIST_BATCH_SIZE,
    logLevel: parsed.DAGPROC_LOG_LEVEL,
    incrementalParsing: parsed.DAGPROC_INCREMENTAL_PARSING,
    staticReparseInterval: parsed.DAGPROC_STATIC_REPARSE_INTERVAL,
    fileWatch: parsed.DAGPROC_FILE_WATCH,
    logFormat: parsed.DAGPROC_LOG_FORMAT,
    healthPort: parsed.DAGPROC_PROCESSOR_HEALTH_PORT,
    healthHost: parsed.DAGPROC_PROCESSOR_HEALTH_HOST,
    healthCheckThreshold: parsed.DAGPROC_HEALTH_CHECK_THRESHOLD,
    printStatsInterval: parsed.DAGPROC_PRINT_STATS_INTERVAL,
  };
}

/** DESIGN.md: with DAGPROC_BUNDLES unset, one local bundle `dags-folder` at DAGPROC_DAGS_FOLDER. */
function defaultBundle(configuredPath: string, refreshInterval: number): LocalBundleConfig {
  const path = realDirectory('DAGPROC_DAGS_FOLDER', configuredPath);
  return { kind: 'local', name: 'dags-folder', path, configuredPath, refreshInterval };
}

// --- command-line flags -------------------------------------------------------------------

interface Flags {
  numRuns: number | null;
  bundleNames: string[] | null;
  dryRun: boolean;
}

const FLAGS = ['--num-runs', '--bundle-name', '--dry-run'] as const;
const USAGE = 'the processor takes --num-runs N, --bundle-name NAME and --dry-run';

function parseFlags(argv: readonly string[]): Flags {
  const flags: Flags = { numRuns: null, bundleNames: null, dryRun: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (!(FLAGS as readonly string[]).includes(flag)) {
      throw new ConfigError(`${arg}: unknown argument (${USAGE})`);
    }
    if (flag === '--dry-run') {
      if (flag !== arg) throw new ConfigError(`--dry-run: takes no value (got ${JSON.stringify(arg)})`);
      flags.dryRun = true;
      continue;
    }
    let value: string | undefined;
    if (flag !== arg) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new ConfigError(`${flag}: needs a value`);
      i++;
    }
    if (flag === '--num-runs') {
      if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
        throw new ConfigError(`--num-runs: must be a whole number of at least 1 (got ${JSON.stringify(value)})`);
      }
      flags.numRuns = Number(value);
    } else {
      const name = bundleName.safeParse(value);
      if (!name.success) {
        throw new ConfigError(`--bundle-name: ${name.error.issues[0]!.message} (got ${JSON.stringify(value)})`);
      }
      flags.bundleNames = [...new Set([...(flags.bundleNames ?? []), name.data])];
    }
  }
  return flags;
}

// --- DAGPROC_BUNDLES ----------------------------------------------------------------------

const refreshInterval = z
  .union([z.number(), z.string()], { error: 'must be a number of seconds' })
  .transform((raw, ctx) => {
    const value = typeof raw === 'number' ? raw : parseDuration(raw);
    if (value === null || !Number.isInteger(value) || value < 0 || value > DAY) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number of seconds from 0 to ${DAY}` });
      return z.NEVER;
    }
    return value;
  })
  .optional();

const requiredString = (what: string) =>
  z.string({ error: (issue) => (issue.input === undefined ? 'is required' : `must be a string (${what})`) });

const entryName = z
  .unknown()
  .superRefine((raw, ctx) => {
    if (raw === undefined) ctx.addIssue({ code: 'custom', message: 'is required' });
  })
  .pipe(bundleName);

const localEntry = z.strictObject({
  name: entryName,
  kind: z.literal('local'),
  path: requiredString('a folder').min(1, 'must not be empty'),
  refreshInterval,
});

const refName = (what: string) =>
  z
    .string({ error: 'must be a string' })
    .regex(/^(?!-)(?!.*\.\.)(?!.*@\{)[^\s~^:?*[\\]+$/, `must be a ${what} name`)
    .refine((name) => !name.startsWith('/') && !name.endsWith('/') && !name.endsWith('.lock'), `must be a ${what} name`);

const gitEntry = z.strictObject({
  name: entryName,
  kind: z.literal('git'),
  url: requiredString('a repository URL')
    .refine(isGitUrl, 'must be a repository URL (https://, ssh://, git://, file:// or user@host:path)')
    .refine(
      (url) => !hasPassword(url),
      'must not hold a password: put the credentials in a Connection and name it in "connId"',
    ),
  branch: refName('branch').optional(),
  tag: refName('tag').optional(),
  commit: z
    .string({ error: 'must be a string' })
    .regex(/^([0-9a-f]{40}|[0-9a-f]{64})$/, 'must be a full commit id (40 or 64 lowercase hex digits)')
    .optional(),
  connId: connId.optional(),
  subdir: z
    .string({ error: 'must be a string' })
    .refine(
      (p) => p.length > 0 && !p.startsWith('/') && !p.includes('\\') && p.split('/').every((s) => s !== '..' && s !== ''),
      'must be a relative POSIX path inside the repository (no "..", no leading "/")',
    )
    .optional(),
  refreshInterval,
});

const bundleEntries = z
  .array(
    z.discriminatedUnion('kind', [localEntry, gitEntry], {
      error: (issue) =>
        issue.code === 'invalid_union' ? 'must be "local" or "git"' : 'must be an object like {"name": ..., "kind": "local", "path": ...}',
    }),
    { error: 'must be a JSON array of bundles' },
  )
  .min(1, 'must list at least one bundle')
  .max(1000, 'lists more than 1000 bundles');

function parseBundles(raw: string, defaultRefreshInterval: number, cwd: string): BundleConfig[] {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError('DAGPROC_BUNDLES: not valid JSON');
  }
  const result = bundleEntries.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ConfigError(`${settingPath('DAGPROC_BUNDLES', issue.path)}: ${issue.message}`);
  }

  const bundles: BundleConfig[] = [];
  const seenNames = new Map<string, number>();
  const seenPaths = new Map<string, string>();
  result.data.forEach((entry, index) => {
    const at = `DAGPROC_BUNDLES[${index}]`;
    const earlier = seenNames.get(entry.name);
    if (earlier !== undefined) {
      throw new ConfigError(`${at}.name: ${JSON.stringify(entry.name)} is already the name of DAGPROC_BUNDLES[${earlier}]`);
    }
    seenNames.set(entry.name, index);
    const interval = entry.refreshInterval ?? defaultRefreshInterval;
    if (entry.kind === 'local') {
      const configuredPath = resolve(cwd, entry.path);
      const path = realDirectory(`${at}.path`, configuredPath);
      // Two bundles over one folder would define every DAG twice, and each file would then
      // lose its DAGs to the other bundle's copy as an import error.
      const other = seenPaths.get(path);
      if (other !== undefined) throw new ConfigError(`${at}.path: ${path} is already the folder of bundle ${JSON.stringify(other)}`);
      seenPaths.set(path, entry.name);
      bundles.push({ kind: 'local', name: entry.name, path, configuredPath, refreshInterval: interval });
    } else {
      const pins = (['branch', 'tag', 'commit'] as const).filter((key) => entry[key] !== undefined);
      if (pins.length > 1) {
        throw new ConfigError(`${at}: give at most one of "branch", "tag" and "commit" (got ${pins.map((p) => `"${p}"`).join(' and ')})`);
      }
      bundles.push({
        kind: 'git',
        name: entry.name,
        url: entry.url,
        branch: entry.branch ?? null,
        tag: entry.tag ?? null,
        commit: entry.commit ?? null,
        subdir: entry.subdir ?? null,
        connId: entry.connId ?? null,
        refreshInterval: interval,
      });
    }
  });
  return bundles;
}

function settingPath(setting: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : `${out}.${String(key)}`),
    setting,
  );
}

function isGitUrl(url: string): boolean {
  if (/^(https?|ssh|git|file):\/\/\S+$/.test(url)) {
    try {
      new URL(url);
      return true;
    } catch {
      return false;
    }
  }
  // scp-like syntax: user@host:path
  return /^[\w.-]+@[\w.-]+:\S+$/.test(url);
}

/** A password in the URL would show in `ps`, in logs and in the repository's config. */
function hasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}

// --- paths --------------------------------------------------------------------------------

/** The real path of an existing, readable directory, or a ConfigError naming `setting`. */
function realDirectory(setting: string, path: string): string {
  let real: string;
  try {
    real = realpathSync(path);
  } catch (error) {
    throw pathError(setting, path, error);
  }
  try {
    if (!statSync(real).isDirectory()) throw new ConfigError(`${setting}: ${path} is not a directory`);
    accessSync(real, constants.R_OK | constants.X_OK);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw pathError(setting, path, error);
  }
  return real;
}

function checkTokenPath(path: string): string {
  const setting = 'DAGPROC_API_TOKEN_PATH';
  try {
    if (statSync(path).isDirectory()) throw new ConfigError(`${setting}: ${path} is a directory, not a token file`);
    accessSync(path, constants.R_OK);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = errorCode(error);
    throw new ConfigError(`${setting}: ${path} cannot be read (${code})`);
  }
  return path;
}

/**
 * A parse process may read everything under its bundle's root (dot-folders included: they are
 * only left out of the listing), so a token file there would be readable by every DAG file.
 */
function refuseTokenInsideBundle(tokenPath: string, bundles: readonly BundleConfig[]): void {
  const token = realpathSync(tokenPath);
  for (const bundle of bundles) {
    if (bundle.kind !== 'local') continue;
    const rel = relative(bundle.path, token);
    if (rel && !rel.startsWith('..') && !isAbsolute(rel)) {
      throw new ConfigError(
        `DAGPROC_API_TOKEN_PATH: ${tokenPath} is inside bundle '${bundle.name}' (${bundle.path}), where DAG files could read it; keep the token outside every bundle`,
      );
    }
  }
}

function pathError(setting: string, path: string, error: unknown): ConfigError {
  const code = errorCode(error);
  if (code === 'ENOENT') return new ConfigError(`${setting}: ${path} does not exist`);
  if (code === 'ENOTDIR') return new ConfigError(`${setting}: ${path} is not a directory`);
  return new ConfigError(`${setting}: ${path} cannot be read (${code})`);
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? String(error);
}
