import { z } from 'zod';
import { dagId, pgText, taskId } from '../names.ts';

/**
 * The serialized form of a DAG: what a DAG file's `dag()` calls become after parsing, what the
 * processor sends, and what `serialized_dag.data` stores. Only JSON values; callbacks appear as
 * their presence. The file location is deliberately absent: a DAG moved to another file keeps
 * its hash, so it keeps its version.
 */

export const SERIALIZATION_FORMAT = 1;

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export const jsonValue: z.ZodType<Json> = z.lazy(() =>
  z.union([pgText, z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(pgText, jsonValue)]),
);
export type JsonValue = Json;

export const serializedTask = z.strictObject({
  taskId,
  /** Sorted, unique task ids this task depends on. */
  upstream: z.array(taskId),
  retries: z.number().int().min(0),
  retryDelaySeconds: z.number().min(0).nullable(),
  owner: pgText.nullable(),
  doc: pgText.nullable(),
  params: z.record(z.string(), jsonValue),
});
export type SerializedTask = z.infer<typeof serializedTask>;

export const serializedDag = z.strictObject({
  format: z.literal(SERIALIZATION_FORMAT),
  dagId,
  description: pgText.nullable(),
  /** A cron expression, an `@daily`-style preset, or null for a DAG that is only triggered. */
  schedule: pgText.nullable(),
  /** ISO-8601 date or date-time, as written by the author. */
  startDate: pgText.nullable(),
  endDate: pgText.nullable(),
  catchup: z.boolean(),
  /** Sorted, unique. */
  tags: z.array(pgText.max(100)),
  params: z.record(z.string(), jsonValue),
  defaultArgs: z.record(z.string(), jsonValue),
  maxActiveRuns: z.number().int().positive().nullable(),
  doc: pgText.nullable(),
  /** Sorted by taskId. */
  tasks: z.array(serializedTask),
  hasOnFailureCallback: z.boolean(),
  hasOnSuccessCallback: z.boolean(),
});
export type SerializedDag = z.infer<typeof serializedDag>;
