import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IsolatePool } from './index.ts';
import { dagReporting, startExecutionApi, tempBundle, testPoolOptions, type TempBundle } from './testing.ts';
import type { ParseTask } from './types.ts';

let api: Awaited<ReturnType<typeof startExecutionApi>>;
let pool: IsolatePool;
let bundle: TempBundle;
const tokenCalls = new Map<string, number>();

const sdkDag = (dagId: string, tagsExpr: string, prelude: string) =>
  dagReporting(dagId, tagsExpr, `import { Variable, Connection } from '@dagproc/sdk';\n${prelude}`);

beforeAll(async () => {
  api = await startExecutionApi(
    { target: 'prod', json_var: '{"n": 3}' },
    { warehouse: { connId: 'warehouse', connType: 'postgres', host: 'db.internal', port: 5432, login: 'etl', password: 's3cret', schema: 'public', extra: null } },
  );
  bundle = await tempBundle('vars', {
    'dags/reads.ts': sdkDag(
      'reads',
      "[target, fallback, String(json.n), conn.host ?? 'none']",
      [
        "const target = await Variable.get('target');",
        "const fallback = await Variable.get('missing', { default: 'dflt' });",
        "const json = (await Variable.get('json_var', { deserializeJson: true })) as { n: number };",
        "const conn = await Connection.get('warehouse');",
      ].join('\n'),
    ),
    'dags/reads-too.ts': sdkDag('reads_too', '[target]', "const target = await Variable.get('target');"),
    'dags/no-reads.ts': dagReporting('no_reads', "['quiet']"),
    'dags/missing.ts': sdkDag('missing', '[]', "await Variable.get('missing');"),
    'dags/broken.ts': sdkDag('broken', '[]', "await Variable.get('broken');"),
    'dags/missing-conn.ts': sdkDag('missing_conn', '[]', "await Connection.get('nope');"),
    'dags/unmounted.ts': sdkDag('unmounted', '[v]', "const v = await Variable.get('unmounted', { default: 'silently' });"),
  });
  pool = new IsolatePool(testPoolOptions({ apiUrl: `${api.url}/` }));
  await pool.start();
});

afterAll(async () => {
  await pool?.close();
  await bundle?.remove();
  await api?.close();
});

function task(relativeFileloc: string, fileToken?: () => Promise<string>): ParseTask {
  return {
    bundleName: bundle.name,
    bundleRoot: bundle.root,
    relativeFileloc,
    fileToken:
      fileToken ??
      (async () => {
        tokenCalls.set(relativeFileloc, (tokenCalls.get(relativeFileloc) ?? 0) + 1);
        return `token-for-${relativeFileloc}`;
      }),
  };
}

describe('Variable and Connection reads while parsing', () => {
  it("reads through the Execution API with the file's own token, asked for once per file", async () => {
    const outcome = await pool.parse(task('dags/reads.ts'));
    expect(outcome.importError).toBeNull();
    expect(outcome.dags[0]!.tags).toEqual(['3', 'db.internal', 'dflt', 'prod']);
    expect(tokenCalls.get('dags/reads.ts')).toBe(1);
    const seen = api.requests.filter((r) => r.authorization === 'Bearer token-for-dags/reads.ts').map((r) => r.path);
    expect(seen).toEqual([
      '/execution/variables/target',
      '/execution/variables/missing',
      '/execution/variables/json_var',
      '/execution/connections/warehouse',
    ]);
  });

  it('asks for a new token for each file, and again when the file is parsed again', async () => {
    await pool.parse(task('dags/reads-too.ts'));
    await pool.parse(task('dags/reads-too.ts'));
    expect(tokenCalls.get('dags/reads-too.ts')).toBe(2);
    expect(api.requests.filter((r) => r.authorization === 'Bearer token-for-dags/reads-too.ts')).toHaveLength(2);
  });

  it('never asks for a token for a file that reads nothing', async () => {
    const before = api.requests.length;
    const outcome = await pool.parse(task('dags/no-reads.ts'));
    expect(outcome.importError).toBeNull();
    expect(tokenCalls.has('dags/no-reads.ts')).toBe(false);
    expect(api.requests.length).toBe(before);
  });

  it('makes an unknown variable without a default an import error', async () => {
    const { importError } = await pool.parse(task('dags/missing.ts'));
    expect(importError!.stacktrace).toMatch(/^VariableNotFoundError: Variable 'missing' does not exist/);
    expect(importError!.stacktrace).toMatch(/\n    at (async )?dags\/missing\.ts:3:1$/);
  });

  it('makes an unknown connection an import error', async () => {
    const { importError } = await pool.parse(task('dags/missing-conn.ts'));
    expect(importError!.stacktrace).toMatch(/^ConnectionNotFoundError: Connection 'nope' is not defined/);
  });

  it("does not take a server's 404 for a missing key unless the Execution API says so (no silent default)", async () => {
    const { importError } = await pool.parse(task('dags/unmounted.ts'));
    expect(importError!.stacktrace).toMatch(/^Error: Variable 'unmounted': the API at http:\/\/127\.0\.0\.1:\d+ answered 404 without knowing of the key: does it serve the Execution API/);
  });

  it('names the status when the API fails, with the line that read the variable', async () => {
    const { importError } = await pool.parse(task('dags/broken.ts'));
    expect(importError!.stacktrace).toMatch(/^Error: Variable 'broken': the API answered 500: \{"detail":"database on fire"\}\n/);
    expect(importError!.stacktrace).toMatch(/\n    at (async )?dags\/broken\.ts:3:16$/);
  });

  it('makes a token that cannot be had an import error, with no request sent', async () => {
    const before = api.requests.length;
    const { importError } = await pool.parse(task('dags/reads-too.ts', () => Promise.reject(new Error('server said 403'))));
    expect(importError!.stacktrace).toMatch(/^Error: no token for this file: server said 403/);
    expect(api.requests.length).toBe(before);
  });
});
