import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { benchDagId, benchDagSource, benchFileloc, TASKS_PER_DAG } from './dag-files.ts';

/**
 * Bundles of generated DAG files in the two shapes issue 7 names, deterministic (file i of a
 * shape is the same text on every run):
 *   one  every file defines one DAG of 10 chained tasks (bench/dag-files.ts);
 *   mix  mostly such files, but every tenth file (i % 10 = 3) defines one DAG of 200 tasks, and
 *        every tenth (i % 10 = 6) defines 20 DAGs of 5 tasks, generated in a loop.
 */
export const SHAPES = ['one', 'mix'] as const;
export type Shape = (typeof SHAPES)[number];

export const WIDE_TASKS = 200;
export const MANY_DAGS = 20;
const MANY_DAGS_TASKS = 5;

type FileKind = 'ten' | 'wide' | 'many';

function kindOf(shape: Shape, i: number): FileKind {
  if (shape === 'one') return 'ten';
  if (i % 10 === 3) return 'wide';
  if (i % 10 === 6) return 'many';
  return 'ten';
}

/** The dag ids file `i` of `shape` defines. */
export function dagIdsOf(shape: Shape, i: number): string[] {
  return kindOf(shape, i) === 'many' ? Array.from({ length: MANY_DAGS }, (_, d) => `${benchDagId(i)}_${d}`) : [benchDagId(i)];
}

export function describeShape(shape: Shape): string {
  return shape === 'one'
    ? `one DAG of ${TASKS_PER_DAG} tasks per file`
    : `8 in 10 files one ${TASKS_PER_DAG}-task DAG, 1 in 10 one ${WIDE_TASKS}-task DAG, 1 in 10 ${MANY_DAGS} DAGs of ${MANY_DAGS_TASKS} tasks`;
}

/** The source of file `i`; `revision` > 0 changes a one-DAG file's DAG (a new version). */
export function shapedSource(shape: Shape, i: number, revision = 0): string {
  switch (kindOf(shape, i)) {
    case 'ten':
      return benchDagSource(i, revision);
    case 'wide':
      return [
        "import { dag, task } from '@dagproc/sdk';",
        `const width: number = ${WIDE_TASKS};`,
        '// A chain with a skip link every tenth task, generated as real DAG files often are.',
        'const tasks = Array.from({ length: width }, (_, t) =>',
        "  task({ taskId: `step_${t}`, upstream: t === 0 ? [] : t % 10 === 0 && t >= 10 ? [`step_${t - 1}`, `step_${t - 10}`] : [`step_${t - 1}`] }),",
        ');',
        'export default dag({',
        `  dagId: '${benchDagId(i)}',`,
        "  schedule: '0 3 * * *',",
        "  startDate: '2026-01-01',",
        `  tags: ['bench', 'wide'${revision > 0 ? `, 'rev_${revision}'` : ''}],`,
        "  defaultArgs: { owner: 'team_wide', retries: 2 },",
        '  tasks,',
        '});',
        '',
      ].join('\n');
    case 'many':
      return [
        "import { dag, task } from '@dagproc/sdk';",
        'interface Table { name: string; hourly: boolean }',
        `const tables: Table[] = Array.from({ length: ${MANY_DAGS} }, (_, d) => ({ name: \`table_\${d}\`, hourly: d % 2 === 0 }));`,
        'export default tables.map((table, d) =>',
        '  dag({',
        `    dagId: \`${benchDagId(i)}_\${d}\`,`,
        "    schedule: table.hourly ? '@hourly' : '@daily',",
        "    startDate: '2026-01-01',",
        `    tags: ['bench', 'many', table.name${revision > 0 ? `, 'rev_${revision}'` : ''}],`,
        `    tasks: Array.from({ length: ${MANY_DAGS_TASKS} }, (_, t) => task({ taskId: \`load_\${t}\`, upstream: t === 0 ? [] : [\`load_\${t - 1}\`] })),`,
        '  }),',
        ');',
        '',
      ].join('\n');
  }
}

export interface ShapedBundle {
  /** Absolute real path (the isolate pool refuses a symlinked root). */
  root: string;
  shape: Shape;
  /** Relative filelocs, in index order. */
  files: string[];
  /** DAGs the bundle defines in all. */
  dags: number;
  /** Indexes of files defining one DAG of the common kind: the ones the change benchmark edits. */
  plainFiles: number[];
  /** Rewrites file `i` with a new revision of its DAG. */
  change(i: number, revision: number): Promise<void>;
  dispose(): Promise<void>;
}

export async function writeShapedBundle(shape: Shape, count: number): Promise<ShapedBundle> {
  const root = await realpath(await mkdtemp(path.join(os.tmpdir(), `dagproc-bench-${shape}-`)));
  try {
    await mkdir(path.join(root, 'dags'));
    const files = Array.from({ length: count }, (_, i) => benchFileloc(i));
    // A few hundred writes at a time: thousands at once can run into the open-files limit.
    for (let start = 0; start < count; start += 200) {
      await Promise.all(files.slice(start, start + 200).map((file, k) => writeFile(path.join(root, file), shapedSource(shape, start + k))));
    }
    let dags = 0;
    const plainFiles: number[] = [];
    for (let i = 0; i < count; i++) {
      dags += dagIdsOf(shape, i).length;
      if (kindOf(shape, i) === 'ten') plainFiles.push(i);
    }
    return {
      root,
      shape,
      files,
      dags,
      plainFiles,
      change: (i, revision) => writeFile(path.join(root, files[i]!), shapedSource(shape, i, revision)),
      dispose: () => rm(root, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}
