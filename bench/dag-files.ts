import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SERIALIZATION_FORMAT, type SerializedDag, type SerializedTask } from '../shared/src/dag/model.ts';

/**
 * The workload every benchmark shares: DAG files of ten chained tasks, written in TypeScript
 * (types, an interface, an import of the SDK) so a parse pays for the transform as real files do.
 */

export const TASKS_PER_DAG = 10;

export const benchDagId = (i: number): string => `bench_dag_${i}`;

export const benchFileloc = (i: number): string => `dags/dag_${String(i).padStart(5, '0')}.ts`;

const owner = (i: number) => `team_${i % 7}`;
const retries = (i: number) => i % 3;

/** `revision` > 0 adds a tag, so the DAG's serialized form (and hash) changes: a new version. */
export function benchDagSource(i: number, revision = 0): string {
  const tasks = Array.from({ length: TASKS_PER_DAG }, (_, t) =>
    t === 0 ? `  task({ taskId: 'task_0', retries: 1 }),` : `  task({ taskId: 'task_${t}', upstream: ['task_${t - 1}'] }),`,
  );
  return [
    "import { dag, task, type Task } from '@dagproc/sdk';",
    'interface Settings { owner: string; retries: number }',
    `const settings: Settings = { owner: '${owner(i)}', retries: ${retries(i)} };`,
    'const tasks: Task[] = [',
    ...tasks,
    '];',
    'export default dag({',
    `  dagId: '${benchDagId(i)}',`,
    "  schedule: '@daily',",
    "  startDate: '2026-01-01',",
    `  tags: ['bench', settings.owner${revision > 0 ? `, 'rev_${revision}'` : ''}],`,
    '  defaultArgs: { retries: settings.retries, owner: settings.owner },',
    '  tasks,',
    '});',
    '',
  ].join('\n');
}

/**
 * What parsing `benchDagSource(i)` yields (defaultArgs applied to the tasks), for benchmarks that
 * persist without parsing; the parse benchmark checks that the two agree.
 */
export function benchSerializedDag(i: number): SerializedDag {
  const tasks: SerializedTask[] = Array.from({ length: TASKS_PER_DAG }, (_, t) => ({
    taskId: `task_${t}`,
    upstream: t === 0 ? [] : [`task_${t - 1}`],
    retries: t === 0 ? 1 : retries(i),
    retryDelaySeconds: null,
    owner: owner(i),
    doc: null,
    params: {},
  }));
  return {
    format: SERIALIZATION_FORMAT,
    dagId: benchDagId(i),
    description: null,
    schedule: '@daily',
    startDate: '2026-01-01',
    endDate: null,
    catchup: false,
    tags: ['bench', owner(i)].sort(),
    params: {},
    defaultArgs: { owner: owner(i), retries: retries(i) },
    maxActiveRuns: null,
    doc: null,
    tasks,
    hasOnFailureCallback: false,
    hasOnSuccessCallback: false,
  };
}

export interface BenchBundle {
  /** Absolute real path (the isolate pool refuses a symlinked root). */
  root: string;
  /** Relative filelocs, in index order. */
  files: string[];
  dispose(): Promise<void>;
}

/** Writes `count` DAG files into a fresh temp folder. */
export async function writeBenchBundle(count: number): Promise<BenchBundle> {
  const root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'dagproc-bench-')));
  try {
    await mkdir(path.join(root, 'dags'));
    const files = Array.from({ length: count }, (_, i) => benchFileloc(i));
    // A few hundred writes at a time: a thousand at once can run into the open-files limit.
    for (let start = 0; start < count; start += 200) {
      await Promise.all(files.slice(start, start + 200).map((file, k) => writeFile(path.join(root, file), benchDagSource(start + k))));
    }
    return { root, files, dispose: () => rm(root, { recursive: true, force: true }) };
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}
