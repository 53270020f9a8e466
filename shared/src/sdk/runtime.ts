import type { ConnectionResponse } from '../schemas/execution.ts';

/**
 * What the parse isolate provides to the SDK while a DAG file or a callback runs: the only way
 * SDK code reaches outside its module context. The isolate installs it on the context's global
 * object under RUNTIME_GLOBAL before it evaluates the file; outside an isolate it is absent.
 */
export interface DagprocRuntime {
  /** Resolves to undefined when the variable does not exist (the API's 404). */
  getVariable(key: string): Promise<string | undefined>;
  /** Resolves to undefined when the connection does not exist (the API's 404). */
  getConnection(connId: string): Promise<ConnectionResponse | undefined>;
}

export const RUNTIME_GLOBAL = '__dagprocRuntime';
