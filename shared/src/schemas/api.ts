import { z } from 'zod';
import { bundleName, dagId, relativeFileloc } from '../names.ts';
import { jsonValue, serializedDag } from '../dag/model.ts';
import { connId, variableKey } from './execution.ts';

/**
 * The public REST API's bodies and answers (`/api/v2`, modelled on Airflow's, camelCase JSON).
 * The server validates with these and generates its OpenAPI document from them, so the two
 * cannot disagree.
 */

export interface ApiSchemaMeta {
  /** The schema's name under `components.schemas` (Airflow's names). */
  id?: string;
  description?: string;
  default?: unknown;
  /** JSON Schema keywords that replace what zod derives (an `undefined` drops the keyword). */
  [keyword: string]: unknown;
}

/**
 * The document's names and descriptions live in a registry of their own, not zod's global
 * one, so naming the shared DAG model here changes nothing for other users of it.
 */
export const apiSchemaMeta = z.registry<ApiSchemaMeta>();

function doc<T extends z.ZodType>(schema: T, meta: ApiSchemaMeta): T {
  apiSchemaMeta.add(schema, meta);
  return schema;
}

doc(jsonValue, { id: 'JsonValue', description: 'Any JSON value.' });
doc(serializedDag, { id: 'SerializedDag', description: 'A DAG as the processor serialized it.' });

// ---------------------------------------------------------------- query and path values

/**
 * A whole number written in a query string or path. Documented as the integer a client
 * writes, though it is parsed from a string.
 */
export function wholeNumber(min: number, max: number) {
  const wrong = `expected a whole number from ${min} to ${max}`;
  return doc(
    z.string().regex(/^[0-9]{1,15}$/, wrong).transform(Number).pipe(z.number().int().min(min, wrong).max(max, wrong)),
    { type: 'integer', minimum: min, maximum: max, pattern: undefined },
  );
}

/** `true` or `false` in a query string; anything else is refused rather than guessed at. */
export const queryBoolean = doc(
  z.enum(['true', 'false'], 'expected true or false').transform((v) => v === 'true'),
  { type: 'boolean', enum: undefined },
);

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

/** Airflow's paging: `limit` rows from `offset`; every collection answers its `totalEntries`. */
export const pageQuery = z.object({
  limit: doc(wholeNumber(1, MAX_PAGE_LIMIT).optional(), {
    description: `Rows to return (default ${DEFAULT_PAGE_LIMIT}).`,
    default: DEFAULT_PAGE_LIMIT,
  }),
  offset: doc(wholeNumber(0, 1_000_000_000).optional(), { description: 'Rows to skip.', default: 0 }),
});
export type PageQuery = z.output<typeof pageQuery>;

// The document says `format: date-time` / `uuid`; zod's long equivalent patterns add nothing for a reader.
const timestamp = doc(z.iso.datetime({ offset: true }), { pattern: undefined });
const uuid = doc(z.uuid(), { pattern: undefined });
const totalEntries = doc(z.number().int().min(0), { description: 'Rows matching the filters, ignoring limit and offset.' });

export const apiError = doc(
  z.object({ detail: doc(z.string(), { description: 'What was wrong; for bad input "<field>: <what is wrong>".' }) }),
  { id: 'Error' },
);
export type ApiError = z.infer<typeof apiError>;

// ---------------------------------------------------------------- DAGs

export const dagIdParams = z.object({ dagId });

export const dagsQuery = pageQuery.extend({
  bundleName: doc(bundleName.optional(), { description: 'Only DAGs of this bundle.' }),
  isStale: doc(queryBoolean.optional(), { description: 'Only stale (true) or only live (false) DAGs.' }),
  tag: doc(z.array(z.string().min(1).max(100)).max(50).optional(), {
    description: 'Only DAGs with any of these tags; repeat the parameter for several.',
  }),
  dagIdPattern: doc(z.string().min(1).max(250).optional(), {
    description: 'Case-insensitive SQL LIKE pattern matched anywhere in the dag id (`%` and `_` are wildcards).',
  }),
});

export const dagResponse = doc(
  z.object({
    dagId: z.string(),
    bundleName: z.string(),
    bundleVersion: z.string().nullable(),
    relativeFileloc: z.string(),
    isStale: z.boolean(),
    isPaused: z.boolean(),
    lastParsedTime: timestamp,
    description: z.string().nullable(),
    timetableSummary: z.string().nullable(),
    tags: z.array(z.string()),
    owners: z.string().nullable(),
    hasImportErrors: doc(z.boolean(), { description: "True while the DAG's file has an import error." }),
    latestVersionNumber: z.number().int().nullable(),
  }),
  { id: 'DAGResponse' },
);
export type DagResponse = z.infer<typeof dagResponse>;

export const dagCollection = doc(z.object({ dags: z.array(dagResponse), totalEntries }), { id: 'DAGCollectionResponse' });

export const dagPatchBody = doc(z.strictObject({ isPaused: z.boolean() }), { id: 'DAGPatchBody' });

// ---------------------------------------------------------------- DAG versions

export const dagVersionsQuery = pageQuery;
export const dagVersionParams = z.object({ dagId, versionNumber: wholeNumber(1, 2_147_483_647) });

const dagVersionFields = {
  id: uuid,
  dagId: z.string(),
  versionNumber: z.number().int(),
  bundleName: z.string(),
  bundleVersion: z.string().nullable(),
  createdAt: timestamp,
};

export const dagVersionResponse = doc(z.object(dagVersionFields), { id: 'DagVersionResponse' });
export type DagVersionResponse = z.infer<typeof dagVersionResponse>;

export const dagVersionCollection = doc(z.object({ dagVersions: z.array(dagVersionResponse), totalEntries }), {
  id: 'DAGVersionCollectionResponse',
});

export const dagVersionDetailResponse = doc(
  z.object({
    ...dagVersionFields,
    dagHash: z.string(),
    data: serializedDag,
    relativeFileloc: z.string().nullable(),
    sourceCode: doc(z.string().nullable(), { description: "The file's source as of this version." }),
  }),
  { id: 'DagVersionDetailResponse' },
);
export type DagVersionDetailResponse = z.infer<typeof dagVersionDetailResponse>;

// ---------------------------------------------------------------- import errors and warnings

export const importErrorsQuery = pageQuery.extend({
  bundleName: doc(bundleName.optional(), { description: 'Only import errors of this bundle.' }),
});

export const importErrorResponse = doc(
  z.object({
    importErrorId: z.number().int(),
    bundleName: z.string(),
    filename: doc(z.string(), { description: 'Relative to the bundle root.' }),
    stackTrace: z.string(),
    timestamp,
  }),
  { id: 'ImportErrorResponse' },
);
export type ImportErrorResponse = z.infer<typeof importErrorResponse>;

export const importErrorCollection = doc(z.object({ importErrors: z.array(importErrorResponse), totalEntries }), {
  id: 'ImportErrorCollectionResponse',
});

export const dagWarningsQuery = pageQuery.extend({
  dagId: doc(dagId.optional(), { description: 'Only warnings of this DAG.' }),
  warningType: doc(z.string().min(1).max(50).optional(), { description: 'Only warnings of this type.' }),
});

export const dagWarningResponse = doc(
  z.object({ dagId: z.string(), warningType: z.string(), message: z.string(), timestamp }),
  { id: 'DAGWarningResponse' },
);
export type DagWarningResponse = z.infer<typeof dagWarningResponse>;

export const dagWarningCollection = doc(z.object({ dagWarnings: z.array(dagWarningResponse), totalEntries }), {
  id: 'DAGWarningCollectionResponse',
});

// ---------------------------------------------------------------- bundles and jobs

export const bundlesQuery = pageQuery;

export const bundleResponse = doc(
  z.object({
    name: z.string(),
    kind: z.string(),
    active: z.boolean(),
    processorGroup: z.string().nullable(),
    version: doc(z.string().nullable(), { description: 'The commit of a git bundle as of its last good refresh; null for a folder.' }),
    lastRefreshed: timestamp.nullable(),
    lastError: doc(z.string().nullable(), {
      description: 'Why the latest refresh failed (the processor keeps parsing the last good version and retries); null after a good refresh.',
    }),
    lastErrorAt: timestamp.nullable(),
    dagCount: doc(z.number().int(), { description: 'Live (not stale) DAGs of the bundle.' }),
    importErrorCount: z.number().int(),
  }),
  { id: 'DagBundleResponse' },
);
export type BundleResponse = z.infer<typeof bundleResponse>;

export const bundleCollection = doc(z.object({ bundles: z.array(bundleResponse), totalEntries }), {
  id: 'DagBundleCollectionResponse',
});

export const jobsQuery = pageQuery.extend({
  jobType: doc(z.string().min(1).max(100).optional(), { description: 'Only jobs of this type, e.g. DagProcessorJob.' }),
  state: doc(z.string().min(1).max(50).optional(), { description: 'Only jobs in this state: running, success or failed.' }),
  hostname: doc(z.string().min(1).max(255).optional(), { description: 'Only jobs on this host.' }),
});

export const jobResponse = doc(
  z.object({
    id: z.number().int(),
    jobType: z.string(),
    state: z.string(),
    hostname: z.string(),
    unixname: z.string(),
    pid: z.number().int(),
    startDate: timestamp,
    endDate: timestamp.nullable(),
    latestHeartbeat: timestamp,
    heartbeatAgeSeconds: doc(z.number(), { description: "Seconds since the latest heartbeat, by the database's clock." }),
  }),
  { id: 'JobResponse' },
);
export type JobResponse = z.infer<typeof jobResponse>;

export const jobCollection = doc(z.object({ jobs: z.array(jobResponse), totalEntries }), { id: 'JobCollectionResponse' });

// ---------------------------------------------------------------- parse and callback requests

export const parseRequestByFile = doc(z.strictObject({ bundleName, relativeFileloc }), {
  id: 'ParseRequestByFileBody',
  description: 'Reparse one file of a bundle.',
});
export const parseRequestByDag = doc(z.strictObject({ dagId }), {
  id: 'ParseRequestByDagBody',
  description: 'Reparse the file that defines this DAG.',
});
export const parseRequestBody = doc(
  z.union([parseRequestByFile, parseRequestByDag], { error: 'give either bundleName and relativeFileloc, or dagId' }),
  { id: 'ParseRequestBody' },
);
export type ParseRequestBody = z.infer<typeof parseRequestBody>;

export const parseRequestResponse = doc(
  z.object({ id: z.number().int(), bundleName: z.string(), relativeFileloc: z.string(), createdAt: timestamp }),
  { id: 'ParseRequestResponse' },
);
export type ParseRequestResponse = z.infer<typeof parseRequestResponse>;

export const callbackTypeValue = z.enum(['failure', 'success']);

export const callbackRequestBody = doc(
  z.strictObject({
    dagId,
    callbackType: callbackTypeValue,
    runId: z.string().min(1).max(250).nullable().optional(),
    msg: z.string().max(100_000).nullable().optional(),
    context: doc(z.record(z.string(), jsonValue).optional(), { description: "Handed to the DAG's callback." }),
  }),
  { id: 'CallbackRequestBody' },
);
export type CallbackRequestBody = z.infer<typeof callbackRequestBody>;

export const callbackRequestResponse = doc(
  z.object({
    id: z.number().int(),
    dagId: z.string(),
    callbackType: callbackTypeValue,
    runId: z.string().nullable(),
    msg: z.string().nullable(),
    context: z.record(z.string(), jsonValue),
    createdAt: timestamp,
  }),
  { id: 'CallbackRequestResponse' },
);
export type CallbackRequestResponse = z.infer<typeof callbackRequestResponse>;

// ---------------------------------------------------------------- variables

export const variableKeyParams = z.object({ key: variableKey });
export const variablesQuery = pageQuery;

export const variableBody = doc(
  z.strictObject({ value: z.string(), description: z.string().max(5000).nullable().optional() }),
  { id: 'VariableBody' },
);
export type VariableBody = z.infer<typeof variableBody>;

export const variableResponse = doc(
  z.object({ key: z.string(), value: z.string(), description: z.string().nullable() }),
  { id: 'VariableResponse' },
);
export type VariableResponse = z.infer<typeof variableResponse>;

export const variableCollection = doc(z.object({ variables: z.array(variableResponse), totalEntries }), {
  id: 'VariableCollectionResponse',
});

// ---------------------------------------------------------------- connections

/** What a secret looks like in an answer; PUT it back and the stored secret is kept. */
export const MASKED = '***';

export const connIdParams = z.object({ connId });
export const connectionsQuery = pageQuery;
export const connectionQuery = z.object({
  reveal: doc(queryBoolean.optional(), {
    description: 'true: answer the password and extra as stored, unmasked (recorded in the audit log).',
    default: false,
  }),
});

const optionalText = (max: number) => z.string().max(max).nullable().optional();

export const connectionBody = doc(
  z.strictObject({
    connType: z.string().min(1).max(500),
    description: optionalText(5000),
    host: optionalText(500),
    port: z.number().int().min(0).max(65_535).nullable().optional(),
    login: optionalText(500),
    password: doc(optionalText(5000), { description: `"${MASKED}" keeps the stored password.` }),
    schema: optionalText(500),
    extra: doc(z.record(z.string(), jsonValue).nullable().optional(), {
      description: `"${MASKED}" under a secret-looking key keeps the stored value.`,
    }),
  }),
  { id: 'ConnectionBody', description: 'Replaces the whole connection: a field left out becomes null.' },
);
export type ConnectionBody = z.infer<typeof connectionBody>;

export const connectionCreateBody = doc(
  z.strictObject({ connId, ...connectionBody.shape }),
  { id: 'ConnectionCreateBody', description: 'A new Connection; 409 when the id is taken.' },
);
export type ConnectionCreateBody = z.infer<typeof connectionCreateBody>;

export const connectionPatchBody = doc(connectionBody.partial().refine((body) => Object.keys(body).length > 0, 'at least one field to change'), {
  id: 'ConnectionPatchBody',
  description: 'Changes only the fields sent; null clears a field.',
});
export type ConnectionPatchBody = z.infer<typeof connectionPatchBody>;

export const connectionResponse = doc(
  z.object({
    connId: z.string(),
    connType: z.string(),
    description: z.string().nullable(),
    host: z.string().nullable(),
    port: z.number().int().nullable(),
    login: z.string().nullable(),
    password: doc(z.string().nullable(), { description: `"${MASKED}" when set; never the password itself.` }),
    schema: z.string().nullable(),
    extra: doc(z.record(z.string(), jsonValue).nullable(), {
      description: `Values under secret-looking keys (password, token, ...) read "${MASKED}".`,
    }),
  }),
  { id: 'ConnectionResponse' },
);
export type ConnectionResponse = z.infer<typeof connectionResponse>;

export const connectionCollection = doc(z.object({ connections: z.array(connectionResponse), totalEntries }), {
  id: 'ConnectionCollectionResponse',
});

// ---------------------------------------------------------------- bundle access policies

/** A Connection id or Variable key, or a prefix of them ending in `*` (`*` alone: everything). */
export const accessPolicyEntry = doc(
  z
    .string()
    .max(251)
    .regex(/^([A-Za-z0-9_.-]+\*?|\*)$/, 'an entry is an id or key, or a prefix ending in "*" (letters, digits, ".", "_", "-")'),
  { description: 'An exact id, or a prefix ending in "*".' },
);

export const bundleNameParams = z.object({ bundleName });

export const accessPolicyBody = doc(
  z.strictObject({
    connectionIds: z.array(accessPolicyEntry).max(1000),
    variableKeys: z.array(accessPolicyEntry).max(1000),
  }),
  {
    id: 'BundleAccessPolicyBody',
    description: 'What the DAG files of the bundle may read through the Execution API; an empty list allows nothing of that kind.',
  },
);
export type AccessPolicyBody = z.infer<typeof accessPolicyBody>;

export const accessPolicyResponse = doc(
  z.object({
    bundleName: z.string(),
    connectionIds: z.array(z.string()),
    variableKeys: z.array(z.string()),
    updatedAt: timestamp,
    updatedBy: z.string().nullable(),
  }),
  { id: 'BundleAccessPolicyResponse' },
);
export type AccessPolicyResponse = z.infer<typeof accessPolicyResponse>;

export const accessPolicyCollection = doc(z.object({ accessPolicies: z.array(accessPolicyResponse), totalEntries }), {
  id: 'BundleAccessPolicyCollectionResponse',
});
export const accessPoliciesQuery = pageQuery;
