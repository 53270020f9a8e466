/**
 * `@dagproc/sdk`: what DAG files import. Plain ECMAScript all the way down (no Node modules,
 * no npm packages, no `process`): the parse isolate evaluates a fresh copy of it in a bare
 * `vm` context for every DAG file.
 */
export { dag } from './dag.ts';
export type { CallbackContext, Dag, DagCallback, DagOptions, DagTask, DefaultArgs } from './dag.ts';
export { task } from './task.ts';
export type { Task, TaskOptions } from './task.ts';
export { Variable } from './variable.ts';
export type { VariableAccessor, VariableGetOptions } from './variable.ts';
export { Connection } from './connection.ts';
export type { ConnectionInfo } from './connection.ts';
export {
  ConnectionNotFoundError,
  DagValidationError,
  DuplicateDagIdError,
  RuntimeUnavailableError,
  VariableNotFoundError,
} from './errors.ts';
export type { JsonValue } from '../dag/model.ts';
