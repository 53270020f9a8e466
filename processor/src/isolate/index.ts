export { IsolatePool, PoolClosedError } from './pool.ts';
export { ProcessStartError } from './parseProcess.ts';
export { DAG_FILE_EXTENSIONS } from './sources.ts';
export type {
  CallbackContext,
  CallbackOutcome,
  CallbackTask,
  IsolatePoolOptions,
  LoadedModule,
  ParseDependencies,
  ParseOutcome,
  ParseTask,
} from './types.ts';
