import { serializedDagOf } from '@dagproc/shared/testing';
import type { CallbackOutcome, CallbackTask, ParseOutcome, ParsePool, ParseTask } from '../parse-pool.ts';

/**
 * An in-process parse pool for manager tests about the API: every file defines one DAG named
 * after it. The real pool (processor/src/isolate) has its own tests and runs in the e2e suite.
 */
export class FakePool implements ParsePool {
  readonly parsed: string[] = [];
  readonly callbacksRun: CallbackTask[] = [];
  /** Files whose parse asks for a per-file token, as one reading a Variable would. */
  readonly readsVariables = new Set<string>();
  closed = false;

  async parse(task: ParseTask): Promise<ParseOutcome> {
    this.parsed.push(task.relativeFileloc);
    if (this.readsVariables.has(task.relativeFileloc)) {
      try {
        await task.fileToken();
      } catch (error) {
        return { dags: [], importError: { stacktrace: `Error: ${(error as Error).message}` }, durationMs: 1 };
      }
    }
    return { dags: [serializedDagOf(dagIdOf(task.relativeFileloc))], importError: null, durationMs: 1 };
  }

  async runCallback(task: CallbackTask): Promise<CallbackOutcome> {
    this.callbacksRun.push(task);
    return { ok: true, durationMs: 1 };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export function dagIdOf(relativeFileloc: string): string {
  return relativeFileloc.replace(/\.[^.]+$/, '').replace(/[^A-Za-z0-9_]/g, '_');
}
