import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

/**
 * The metadata schema. Table names and the columns DESIGN.md fixes keep Airflow's names so
 * operators' SQL finds them; the rest serves the processor's queries.
 */

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const dagBundle = pgTable('dag_bundle', {
  name: text('name').primaryKey(),
  kind: text('kind').notNull().default('local'),
  active: boolean('active').notNull().default(true),
  /** The processor group that configured it; reconcile deactivates only its own group's bundles. */
  processorGroup: text('processor_group'),
  version: text('version'),
  lastRefreshed: tz('last_refreshed'),
  /** Why the latest refresh failed (a git fetch, say); null once a refresh succeeds. */
  lastError: text('last_error'),
  lastErrorAt: tz('last_error_at'),
  createdAt: tz('created_at').notNull().defaultNow(),
  updatedAt: tz('updated_at').notNull().defaultNow(),
});

export const dag = pgTable(
  'dag',
  {
    dagId: text('dag_id').primaryKey(),
    bundleName: text('bundle_name')
      .notNull()
      .references(() => dagBundle.name),
    relativeFileloc: text('relative_fileloc').notNull(),
    bundleVersion: text('bundle_version'),
    isStale: boolean('is_stale').notNull().default(false),
    isPaused: boolean('is_paused').notNull().default(false),
    lastParsedTime: tz('last_parsed_time').notNull(),
    description: text('description'),
    timetableSummary: text('timetable_summary'),
    tags: jsonb('tags').$type<string[]>().notNull().default([]),
    owners: text('owners'),
    hasImportErrors: boolean('has_import_errors').notNull().default(false),
    createdAt: tz('created_at').notNull().defaultNow(),
  },
  (t) => [index('dag_bundle_file_idx').on(t.bundleName, t.relativeFileloc)],
);

export const dagVersion = pgTable(
  'dag_version',
  {
    id: uuid('id').primaryKey(),
    dagId: text('dag_id')
      .notNull()
      .references(() => dag.dagId, { onDelete: 'cascade' }),
    versionNumber: integer('version_number').notNull(),
    bundleName: text('bundle_name').notNull(),
    bundleVersion: text('bundle_version'),
    createdAt: tz('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('dag_version_dag_number_uq').on(t.dagId, t.versionNumber)],
);

export const serializedDag = pgTable(
  'serialized_dag',
  {
    id: uuid('id').primaryKey(),
    dagVersionId: uuid('dag_version_id')
      .notNull()
      .references(() => dagVersion.id, { onDelete: 'cascade' }),
    dagId: text('dag_id').notNull(),
    data: jsonb('data').notNull(),
    dagHash: text('dag_hash').notNull(),
    createdAt: tz('created_at').notNull().defaultNow(),
    lastUpdated: tz('last_updated').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('serialized_dag_version_uq').on(t.dagVersionId), index('serialized_dag_dag_idx').on(t.dagId)],
);

export const dagCode = pgTable(
  'dag_code',
  {
    id: uuid('id').primaryKey(),
    dagVersionId: uuid('dag_version_id')
      .notNull()
      .references(() => dagVersion.id, { onDelete: 'cascade' }),
    dagId: text('dag_id').notNull(),
    bundleName: text('bundle_name').notNull(),
    relativeFileloc: text('relative_fileloc').notNull(),
    sourceCode: text('source_code').notNull(),
    sourceCodeHash: text('source_code_hash').notNull(),
    createdAt: tz('created_at').notNull().defaultNow(),
    lastUpdated: tz('last_updated').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('dag_code_version_uq').on(t.dagVersionId)],
);

export const importError = pgTable(
  'import_error',
  {
    id: serial('id').primaryKey(),
    bundleName: text('bundle_name').notNull(),
    /** Relative to the bundle root. */
    filename: text('filename').notNull(),
    stacktrace: text('stacktrace').notNull(),
    timestamp: tz('timestamp').notNull(),
  },
  (t) => [uniqueIndex('import_error_file_uq').on(t.bundleName, t.filename)],
);

export const dagWarning = pgTable(
  'dag_warning',
  {
    dagId: text('dag_id')
      .notNull()
      .references(() => dag.dagId, { onDelete: 'cascade' }),
    warningType: text('warning_type').notNull(),
    message: text('message').notNull(),
    timestamp: tz('timestamp').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.dagId, t.warningType] })],
);

/** Operators may insert rows by SQL: everything but bundle_name and relative_fileloc is defaulted. */
export const dagPriorityParsingRequest = pgTable(
  'dag_priority_parsing_request',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    bundleName: text('bundle_name').notNull(),
    relativeFileloc: text('relative_fileloc').notNull(),
    createdAt: tz('created_at').notNull().defaultNow(),
    claimedByJobId: bigint('claimed_by_job_id', { mode: 'number' }),
    leaseExpiresAt: tz('lease_expires_at'),
  },
  (t) => [index('dag_priority_parsing_request_queue_idx').on(t.bundleName, t.createdAt)],
);

/**
 * Operators (or a scheduler) may insert rows by SQL: only dag_id is required; the bundle and
 * file default to the DAG's own at claim time.
 */
export const callbackRequest = pgTable(
  'callback_request',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    createdAt: tz('created_at').notNull().defaultNow(),
    priorityWeight: integer('priority_weight').notNull().default(1),
    dagId: text('dag_id').notNull(),
    bundleName: text('bundle_name'),
    relativeFileloc: text('relative_fileloc'),
    callbackType: text('callback_type').notNull().default('failure'),
    runId: text('run_id'),
    msg: text('msg'),
    context: jsonb('context').$type<Record<string, unknown>>().notNull().default({}),
    claimedByJobId: bigint('claimed_by_job_id', { mode: 'number' }),
    leaseExpiresAt: tz('lease_expires_at'),
    attempts: integer('attempts').notNull().default(0),
  },
  (t) => [
    check('callback_request_type_ck', sql`${t.callbackType} in ('failure', 'success')`),
    index('callback_request_queue_idx').on(t.priorityWeight, t.createdAt),
  ],
);

export const job = pgTable(
  'job',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    jobType: text('job_type').notNull(),
    state: text('state').notNull(),
    hostname: text('hostname').notNull(),
    unixname: text('unixname').notNull(),
    pid: integer('pid').notNull(),
    startDate: tz('start_date').notNull().defaultNow(),
    endDate: tz('end_date'),
    latestHeartbeat: tz('latest_heartbeat').notNull().defaultNow(),
    /** Client-chosen; a retried register with the same id finds the same Job. */
    registrationId: uuid('registration_id'),
    /** The registering token's `bundles` claim: a bundle-limited token may act only on Jobs registered with the same one. */
    tokenBundles: jsonb('token_bundles').$type<string[]>(),
  },
  (t) => [
    uniqueIndex('job_registration_uq').on(t.registrationId),
    index('job_type_state_heartbeat_idx').on(t.jobType, t.state, t.latestHeartbeat),
  ],
);

export const connection = pgTable('connection', {
  id: serial('id').primaryKey(),
  connId: text('conn_id').notNull().unique(),
  connType: text('conn_type').notNull(),
  description: text('description'),
  host: text('host'),
  port: integer('port'),
  login: text('login'),
  /** An encrypted envelope (server/src/secrets/cipher.ts), or plaintext when no key was set. */
  password: text('password'),
  schema: text('schema'),
  /** A JSON string holding an encrypted envelope, or a plain object when no key was set. */
  extra: jsonb('extra').$type<Record<string, unknown> | string>(),
});

export const variable = pgTable('variable', {
  id: serial('id').primaryKey(),
  key: text('key').notNull().unique(),
  /** An encrypted envelope (server/src/secrets/cipher.ts), or plaintext when no key was set. */
  val: text('val').notNull(),
  description: text('description'),
});

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    dttm: tz('dttm').notNull().defaultNow(),
    event: text('event').notNull(),
    /** The token subject that acted. */
    owner: text('owner'),
    bundleName: text('bundle_name'),
    relativeFileloc: text('relative_fileloc'),
    dagId: text('dag_id'),
    extra: jsonb('extra').$type<Record<string, unknown>>(),
  },
  (t) => [index('audit_log_dttm_idx').on(t.dttm)],
);

/**
 * Which Connections and Variables the DAG files of a bundle may read through the Execution
 * API. No row for a bundle: unrestricted. Entries are exact ids or prefixes ending in `*`.
 */
export const bundleAccessPolicy = pgTable('bundle_access_policy', {
  bundleName: text('bundle_name').primaryKey(),
  connectionIds: jsonb('connection_ids').$type<string[]>().notNull(),
  variableKeys: jsonb('variable_keys').$type<string[]>().notNull(),
  updatedAt: tz('updated_at').notNull().defaultNow(),
  updatedBy: text('updated_by'),
});

/**
 * The last parse of each file the server accepted. It orders concurrent and retried persists
 * (parse id, start time), answers "did this file define that DAG last time" for the ownership
 * rule, and keeps the file's content hash for the runtime-varying-value warning.
 */
export const parsedFile = pgTable(
  'parsed_file',
  {
    bundleName: text('bundle_name').notNull(),
    relativeFileloc: text('relative_fileloc').notNull(),
    parseId: uuid('parse_id'),
    parseStartedAt: tz('parse_started_at').notNull(),
    parseFinishedAt: tz('parse_finished_at').notNull(),
    contentHash: text('content_hash'),
    dagIds: jsonb('dag_ids').$type<string[]>().notNull().default([]),
    /** Hash of what the parse produced (DAG hashes, import error, warnings): equal means nothing to rewrite. */
    resultHash: text('result_hash'),
    /** The stored version number of each DAG the parse defined. */
    dagVersions: jsonb('dag_versions').$type<Record<string, number>>(),
    /** The parse landed whole: no DAG refused to another owner, no warning of the server's own. */
    settled: boolean('settled').notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.bundleName, t.relativeFileloc] })],
);
