import type { CallbackOutcome, CallbackTask, LoadedModule, ParseDependencies, ParseOutcome, ParseTask } from './isolate/index.ts';

export type { CallbackOutcome, CallbackTask, LoadedModule, ParseDependencies, ParseOutcome, ParseTask };

/**
 * What the manager needs from the isolate pool: parse a file, run a DAG callback, stop. The
 * IsolatePool is the implementation; manager tests about the API pass a small in-process one.
 */
export interface ParsePool {
  parse(task: ParseTask): Promise<ParseOutcome>;
  runCallback(task: CallbackTask): Promise<CallbackOutcome>;
  close(): Promise<void>;
}
