// A helper module, not a DAG file: it defines no DAGs, so parsing it yields none. DAG files
// import it relatively; the parser resolves `@dagproc/sdk` here too.
import { task, type DefaultArgs, type Task } from '@dagproc/sdk';

/** The data team's usual task settings; a task's own retries/owner win over these. */
export const DATA_TEAM_DEFAULTS: DefaultArgs = { owner: 'data', retries: 2, retryDelaySeconds: 300 };

/** `extract_<source> >> transform_<source> >> load_<source>`, the three steps of every feed. */
export function extractTransformLoad(source: string, options: { loadRetries?: number } = {}): Task[] {
  const extract = task({
    taskId: `extract_${source}`,
    doc: `Pull the latest ${source} rows from the operational database into staging.`,
    params: { table: source },
  });
  const transform = task({ taskId: `transform_${source}`, upstream: [extract] });
  const load = task({ taskId: `load_${source}`, upstream: [transform], retries: options.loadRetries ?? null });
  return [extract, transform, load];
}
