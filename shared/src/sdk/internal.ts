import type { SerializedDag } from '../dag/model.ts';
import { serializeDag } from '../dag/serialize.ts';
import { isDag } from './brand.ts';
import { DuplicateDagIdError } from './errors.ts';
import type { Dag, DagCallback } from './dag.ts';

/**
 * What the parse isolate calls on a DAG file's module namespace. Not part of the authoring
 * API: entry.ts hands it to the isolate as `__dagprocInternal`.
 */

/**
 * The DAGs a module defines, serialized and sorted by dagId: the default export, named
 * exports, and DAGs inside exported arrays. One DAG object exported under several names
 * counts once; two different DAG objects with one dagId are an error, as in Airflow.
 */
export function collectDags(namespace: Record<string, unknown>): SerializedDag[] {
  return discoverDags(namespace).map(serializeDag);
}

/** The DAG's failure or success callback, or undefined when the file defines neither the DAG nor the callback. */
export function findDagCallback(namespace: Record<string, unknown>, dagId: string, kind: 'failure' | 'success'): DagCallback | undefined {
  if (kind !== 'failure' && kind !== 'success') throw new TypeError(`callback kind must be 'failure' or 'success', got ${String(kind)}`);
  const found = discoverDags(namespace).find((d) => d.dagId === dagId);
  const callback = kind === 'failure' ? found?.onFailure : found?.onSuccess;
  return typeof callback === 'function' ? callback : undefined;
}

function discoverDags(namespace: Record<string, unknown>): Dag[] {
  if (typeof namespace !== 'object' || namespace === null) throw new TypeError('expected a module namespace object');
  const byId = new Map<string, Dag>();
  const consider = (value: unknown) => {
    if (!isDag(value)) return;
    const seen = byId.get(value.dagId);
    if (seen !== undefined && seen !== value) throw new DuplicateDagIdError(value.dagId);
    byId.set(value.dagId, value);
  };
  for (const name of Object.keys(namespace)) {
    const value = namespace[name];
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) consider(value[i]);
    } else {
      consider(value);
    }
  }
  return [...byId.values()].sort((a, b) => (a.dagId < b.dagId ? -1 : 1));
}
