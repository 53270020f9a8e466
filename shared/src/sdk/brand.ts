import type { Dag } from './dag.ts';
import type { Task } from './task.ts';

/**
 * Registered symbols mark SDK objects. The symbol registry is shared by every realm in the
 * process, so the parse isolate can recognise a DAG made in a `vm` context from its own realm,
 * and a DAG from one fresh copy of the SDK is still a DAG to another.
 */
export const DAG_BRAND: unique symbol = Symbol.for('dagproc.dag');
export const TASK_BRAND: unique symbol = Symbol.for('dagproc.task');

export function isDag(value: unknown): value is Dag {
  return typeof value === 'object' && value !== null && (value as { [DAG_BRAND]?: unknown })[DAG_BRAND] === true;
}

export function isTask(value: unknown): value is Task {
  return typeof value === 'object' && value !== null && (value as { [TASK_BRAND]?: unknown })[TASK_BRAND] === true;
}

/** Freezes `target` with `brand` as a hidden, read-only mark (a spread copy is not branded). */
export function branded<T extends object>(target: T, brand: symbol): T {
  Object.defineProperty(target, brand, { value: true });
  return Object.freeze(target);
}
