import type { JsonValue, SerializedDag, SerializedTask } from './model.ts';
import { sortJsonKeys } from './json.ts';

/**
 * A validated DAG, as the SDK's `dag()` returns it (or any object of the same shape), turned
 * into the stored `SerializedDag`. Deterministic: every field is present, arrays that are sets
 * are sorted and unique, object keys are sorted, so one file always yields the same bytes and
 * the same dag_hash.
 */

export interface TaskDefinition {
  readonly taskId: string;
  readonly upstream: readonly string[];
  readonly retries: number;
  readonly retryDelaySeconds: number | null;
  readonly owner: string | null;
  readonly doc: string | null;
  readonly params: Readonly<Record<string, JsonValue>>;
}

export interface DagDefinition {
  readonly dagId: string;
  readonly description: string | null;
  readonly schedule: string | null;
  readonly startDate: string | null;
  readonly endDate: string | null;
  readonly catchup: boolean;
  readonly tags: readonly string[];
  readonly params: Readonly<Record<string, JsonValue>>;
  readonly defaultArgs: Readonly<Record<string, JsonValue>>;
  readonly maxActiveRuns: number | null;
  readonly doc: string | null;
  readonly tasks: readonly TaskDefinition[];
  readonly onFailure: unknown;
  readonly onSuccess: unknown;
}

export function serializeDag(d: DagDefinition): SerializedDag {
  return {
    format: 1,
    dagId: d.dagId,
    description: d.description,
    schedule: d.schedule,
    startDate: d.startDate,
    endDate: d.endDate,
    catchup: d.catchup,
    tags: sortedUnique(d.tags),
    params: sortRecord(d.params),
    defaultArgs: sortRecord(d.defaultArgs),
    maxActiveRuns: d.maxActiveRuns,
    doc: d.doc,
    tasks: [...d.tasks].sort((a, b) => compare(a.taskId, b.taskId)).map(serializeTask),
    hasOnFailureCallback: typeof d.onFailure === 'function',
    hasOnSuccessCallback: typeof d.onSuccess === 'function',
  };
}

function serializeTask(t: TaskDefinition): SerializedTask {
  return {
    taskId: t.taskId,
    upstream: sortedUnique(t.upstream),
    retries: t.retries,
    retryDelaySeconds: t.retryDelaySeconds,
    owner: t.owner,
    doc: t.doc,
    params: sortRecord(t.params),
  };
}

/** Code-unit order, never locale order: the bytes must not depend on the machine. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort(compare);
}

function sortRecord(record: Readonly<Record<string, JsonValue>>): Record<string, JsonValue> {
  return sortJsonKeys(record as Record<string, JsonValue>) as Record<string, JsonValue>;
}
