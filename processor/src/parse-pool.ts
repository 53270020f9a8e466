import type { SerializedDag } from '@dagproc/shared';

/**
 * What the manager needs from the isolate pool (processor/src/isolate): parse a file, run a
 * DAG callback, and stop. Neither call rejects for anything user code does.
 */
export interface ParseTask {
  bundleName: string;
  bundleRoot: string;
  relativeFileloc: string;
  /** Called only when the file's code first reads a Variable or Connection. */
  fileToken: () => Promise<string>;
}

export interface ParseOutcome {
  dags: SerializedDag[];
  importError: { stacktrace: string } | null;
  durationMs: number;
}

export interface CallbackTask extends ParseTask {
  dagId: string;
  callbackType: 'failure' | 'success';
  context: {
    dagId: string;
    runId: string | null;
    callbackType: 'failure' | 'success';
    msg: string | null;
    context: Record<string, unknown>;
  };
}

export interface CallbackOutcome {
  ok: boolean;
  error?: string;
  durationMs: number;
}

export interface ParsePool {
  parse(task: ParseTask): Promise<ParseOutcome>;
  runCallback(task: CallbackTask): Promise<CallbackOutcome>;
  close(): Promise<void>;
}
