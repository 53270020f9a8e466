import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '@dagproc/server/testing/server';
import { rows } from '@dagproc/server/testing/sql';
import { TempBundle, dagFile } from './helpers/bundle.ts';
import { startProcessor, writeToken, type ProcessorHandle } from './helpers/processor.ts';

/**
 * The real server on a fresh database and the real processor, in its own process, on a real
 * bundle holding good, broken and hostile DAG files: one pass (--num-runs 1), then the
 * database tells what landed.
 */
let ts: TestServer;
let main: TempBundle;
let other: TempBundle;
let tokenPath: string;
let processor: ProcessorHandle;
let exitCode: number | null;

const importErrors = async () =>
  Object.fromEntries(
    (await rows(ts.testDb.database.db, "select filename, stacktrace from import_error where bundle_name = 'main'")).map((r) => [
      r.filename,
      r.stacktrace as string,
    ]),
  );

beforeAll(async () => {
  ts = await startTestServer();
  await rows(ts.testDb.database.db, "insert into variable (key, val) values ('target', 'prod')");
  main = new TempBundle();
  other = new TempBundle();
  other.write('private.txt', 'another bundle\'s secret');
  other.write('other_dag.ts', dagFile('other_dag'));
  tokenPath = writeToken(await ts.processorToken());

  main.write('good/etl.ts', `import { dag, task, Variable } from '@dagproc/sdk';
import { owner } from './helpers/owner.ts';
const target = await Variable.get('target', { default: 'dev' });
export default dag({
  dagId: 'etl_' + target, schedule: '@daily', startDate: '2026-01-01', tags: ['etl', target],
  defaultArgs: { owner },
  tasks: [task({ taskId: 'extract' }), task({ taskId: 'load', upstream: ['extract'] })],
});
`);
  main.write('good/helpers/owner.ts', `export const owner: string = 'data-team';\n`);
  main.write('good/many.mjs', `import { dag } from '@dagproc/sdk';
export const first = dag({ dagId: 'many_1', schedule: null });
export const others = [2, 3].map((n) => dag({ dagId: 'many_' + n, schedule: '0 */' + n + ' * * *' }));
`);
  main.write('bad/throws.ts', `throw new Error('the file gave up');\n`);
  main.write('bad/syntax.ts', `export default {{;\n`);
  main.write('bad/cycle.ts', `import { dag, task } from '@dagproc/sdk';
export default dag({ dagId: 'cyclic', tasks: [task({ taskId: 'a', upstream: ['b'] }), task({ taskId: 'b', upstream: ['a'] })] });
`);
  main.write('bad/same_id_twice.ts', `import { dag } from '@dagproc/sdk';
export const a = dag({ dagId: 'twice' });
export const b = dag({ dagId: 'twice' });
`);
  main.write('bad/endless.ts', `while (true) {}\n`);
  main.write('bad/hungry.ts', `const hoard = []; while (true) hoard.push(new Array(1e6).fill(Math.random()));\n`);
  main.write('bad/exits.ts', `import process from 'node:process'; process.exit(3);\n`);
  main.write('hostile/read_token.ts', `import { readFileSync } from 'node:fs'; readFileSync(${JSON.stringify(tokenPath)}, 'utf8');\n`);
  main.write('hostile/parent_environ.ts', `import { readFileSync } from 'node:fs'; import process from 'node:process';
readFileSync('/proc/' + process.ppid + '/environ', 'utf8');\n`);
  main.write('hostile/other_bundle.ts', `import { readFileSync } from 'node:fs'; readFileSync(${JSON.stringify(other.root + '/private.txt')}, 'utf8');\n`);
  main.write('hostile/import_other_bundle.ts', `import '${other.root}/other_dag.ts';\n`);
  main.write('hostile/writes.ts', `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(main.root + '/planted.ts')}, 'x');\n`);
  main.write('hostile/spawns.ts', `import { execSync } from 'node:child_process'; execSync('id');\n`);
  main.write('hostile/worker.ts', `import { Worker } from 'node:worker_threads'; new Worker('setInterval(() => {}, 1000)', { eval: true });\n`);
  main.write('hostile/env.ts', `import process from 'node:process'; import { dag } from '@dagproc/sdk';
const names = Object.keys(process.env);
if (names.length > 0) throw new Error('environment leaked: ' + names.join(','));
export default dag({ dagId: 'saw_empty_env' });
`);

  processor = startProcessor({
    apiUrl: ts.url,
    tokenPath,
    bundles: [{ name: 'main', path: main.root }],
    env: { DAGPROC_FILE_PARSE_TIMEOUT: '3', DAGPROC_ISOLATE_MEMORY_LIMIT_MB: '96' },
    args: ['--num-runs', '1'],
  });
  exitCode = await processor.exited;
}, 120_000);

afterAll(async () => {
  await processor?.stop();
  main?.dispose();
  other?.dispose();
  await ts?.close();
});

describe('one pass over a bundle of good, broken and hostile files', () => {
  it('exits 0 after parsing every file once, having completed its Job', async () => {
    expect(exitCode, JSON.stringify(processor.stderr)).toBe(0);
    const jobs = await rows(ts.testDb.database.db, 'select state, end_date from job');
    expect(jobs).toEqual([{ state: 'success', end_date: expect.anything() }]);
  });

  it('stores the good files\' DAGs, Variable reads and relative imports included', async () => {
    const dags = await rows(ts.testDb.database.db, "select dag_id, relative_fileloc, owners, tags from dag where bundle_name = 'main' order by dag_id");
    expect(dags.map((d) => d.dag_id)).toEqual(['etl_prod', 'many_1', 'many_2', 'many_3', 'saw_empty_env']);
    expect(dags[0]).toMatchObject({ relative_fileloc: 'good/etl.ts', owners: 'data-team', tags: ['etl', 'prod'] });
    const [audit] = await rows(ts.testDb.database.db, "select owner, relative_fileloc from audit_log where event = 'variable.get'");
    expect(audit).toEqual({ owner: 'dag-file', relative_fileloc: 'good/etl.ts' });
  });

  it.each([
    ['bad/throws.ts', /the file gave up[\s\S]*bad\/throws\.ts:1/],
    ['bad/syntax.ts', /syntax|Unexpected|Expected/i],
    ['bad/cycle.ts', /cycle/i],
    ['bad/same_id_twice.ts', /twice/],
    ['bad/endless.ts', /ParseTimeout|took longer/],
    ['bad/hungry.ts', /memory/i],
    ['bad/exits.ts', /exit/i],
  ])('%s becomes an import error with its stack trace', async (file, expected) => {
    const errors = await importErrors();
    expect(errors[file], `import errors: ${Object.keys(errors).join(', ')}`).toMatch(expected);
  });

  it.each([
    ['hostile/read_token.ts', /restricted \(FileSystemRead .*processor\.token\)/],
    ['hostile/parent_environ.ts', /restricted \(FileSystemRead \/proc\/\d+\/environ\)/],
    ['hostile/other_bundle.ts', /restricted \(FileSystemRead .*private\.txt\)/],
    ['hostile/import_other_bundle.ts', /outside|bundle/i],
    ['hostile/writes.ts', /restricted \(FileSystemWrite/],
    ['hostile/spawns.ts', /restricted \(ChildProcess/],
    ['hostile/worker.ts', /restricted \(WorkerThreads/],
  ])('%s is refused by the permission model, as an import error', async (file, expected) => {
    const errors = await importErrors();
    expect(errors[file], `import errors: ${Object.keys(errors).join(', ')}`).toMatch(expected);
  });

  it('nothing the hostile files tried happened', async () => {
    const { existsSync } = await import('node:fs');
    expect(existsSync(main.root + '/planted.ts')).toBe(false);
    expect(await rows(ts.testDb.database.db, "select dag_id from dag where dag_id = 'other_dag'")).toEqual([]);
  });
});
