/**
 * Throughput of isolated parsing: N generated ten-task DAG files (TypeScript) in a temp bundle,
 * parsed with 2 processes in pooled mode (first with a cold transform cache, process start-up
 * included; then again, as the processor re-parses unchanged files) and a smaller batch in
 * strict mode.
 *
 *   npx tsx processor/src/isolate/bench.ts [--files 1000] [--strict-files 100] [--max-files-per-process 100]
 */
import { mkdtemp, mkdir, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { IsolatePool } from './index.ts';
import type { IsolatePoolOptions } from './types.ts';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '1000' },
    'strict-files': { type: 'string', default: '100' },
    'max-files-per-process': { type: 'string', default: '100' },
  },
});
const maxFilesPerProcess = Number(values['max-files-per-process']);
const fileCount = Number(values.files);
const strictCount = Math.min(Number(values['strict-files']), fileCount);
if (!Number.isInteger(fileCount) || fileCount < 1) throw new Error('--files must be a positive integer');
if (!Number.isInteger(strictCount) || strictCount < 1) throw new Error('--strict-files must be a positive integer');
if (!Number.isInteger(maxFilesPerProcess) || maxFilesPerProcess < 1) throw new Error('--max-files-per-process must be a positive integer');

function dagFile(i: number): string {
  const tasks = Array.from({ length: 10 }, (_, t) =>
    t === 0 ? `  task({ taskId: 'task_0', retries: 1 }),` : `  task({ taskId: 'task_${t}', upstream: ['task_${t - 1}'] }),`,
  );
  return [
    "import { dag, task, type Task } from '@dagproc/sdk';",
    'interface Settings { owner: string; retries: number }',
    `const settings: Settings = { owner: 'team_${i % 7}', retries: ${i % 3} };`,
    'const tasks: Task[] = [',
    ...tasks,
    '];',
    'export default dag({',
    `  dagId: 'bench_dag_${i}',`,
    "  schedule: '@daily',",
    "  startDate: '2026-01-01',",
    `  tags: ['bench', settings.owner],`,
    '  defaultArgs: { retries: settings.retries, owner: settings.owner },',
    '  tasks,',
    '});',
    '',
  ].join('\n');
}

/** Parses `files` once per label with one pool: the first pass starts the pool and fills its transform cache. */
async function run(labels: string[], options: Partial<IsolatePoolOptions>, bundleRoot: string, files: string[]): Promise<void> {
  let started = performance.now();
  const pool = new IsolatePool({
    mode: 'pooled',
    size: 2,
    timeoutMs: 50_000,
    maxFilesPerProcess,
    memoryLimitMb: 512,
    apiUrl: 'http://127.0.0.1:9',
    ...options,
  });
  await pool.start();
  const startMs = performance.now() - started;
  try {
    for (const [pass, label] of labels.entries()) {
      if (pass > 0) started = performance.now();
      const outcomes = await Promise.all(
        files.map((relativeFileloc) =>
          pool.parse({ bundleName: 'bench', bundleRoot, relativeFileloc, fileToken: () => Promise.reject(new Error('no reads expected')) }),
        ),
      );
      const failed = outcomes.filter((o) => o.importError !== null);
      if (failed.length > 0) throw new Error(`${failed.length} files failed, first: ${failed[0]!.importError!.stacktrace}`);
      const totalMs = performance.now() - started;
      const rate = (files.length / totalMs) * 1000;
      const start = pass === 0 ? `  (pool start ${startMs.toFixed(0)} ms included)` : '';
      console.log(`${label.padEnd(40)} ${String(files.length).padStart(5)} files  ${totalMs.toFixed(0).padStart(6)} ms  ${rate.toFixed(0).padStart(5)} files/s${start}`);
    }
  } finally {
    await pool.close();
  }
}

const root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'dagproc-bench-')));
try {
  await mkdir(path.join(root, 'dags'));
  const files = Array.from({ length: fileCount }, (_, i) => `dags/dag_${String(i).padStart(5, '0')}.ts`);
  await Promise.all(files.map((file, i) => writeFile(path.join(root, file), dagFile(i))));
  console.log(`node ${process.version}, ${os.cpus().length} cpus, size 2, maxFilesPerProcess ${maxFilesPerProcess}`);
  await run(['pooled, first parse (transforms every file)', 'pooled, files unchanged (cached transforms)'], { mode: 'pooled' }, root, files);
  await run(['strict, one process per file'], { mode: 'strict' }, root, files.slice(0, strictCount));
} finally {
  await rm(root, { recursive: true, force: true });
}
