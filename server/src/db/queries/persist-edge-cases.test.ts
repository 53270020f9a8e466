import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { persistInputOf, serializedDagOf } from '@dagproc/shared/testing';
import { startTestServer, type TestServer } from '../../testing/server.ts';
import { rows } from '../../testing/sql.ts';

/** Edge cases of parsing.persist: bad input must be a 400 (or stored), never a 500; stored state must match README. */

let ts: TestServer;
let api: ReturnType<TestServer['client']>;
let token: string;
let seq = 0;
let bundle: string;
const db = () => ts.testDb.database.db;

beforeAll(async () => {
  ts = await startTestServer();
  token = await ts.processorToken();
  api = ts.client(token);
});
afterAll(() => ts.close());
beforeEach(async () => {
  bundle = `rv${++seq}`;
  await api.bundles.reconcile.mutate({ group: bundle, bundles: [{ name: bundle, kind: 'local' }] });
});

const persistRaw = (file: string, dags: ReturnType<typeof serializedDagOf>[], o: Parameters<typeof persistInputOf>[2] = {}) =>
  ts.mutate('parsing.persist', persistInputOf(file, dags, { bundleName: bundle, ...o }), token);

describe('persist input that reaches the database badly', () => {
  it('two warnings of the same type for one DAG are not a 500', async () => {
    const id = `${bundle}_w`;
    const res = await persistRaw('w.ts', [serializedDagOf(id)], {
      warnings: [
        { dagId: id, warningType: 'non-existent pool', message: 'pool a' },
        { dagId: id, warningType: 'non-existent pool', message: 'pool b' },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).not.toBe(500);
  });

  it('a NUL character in the source code is not a 500', async () => {
    const res = await persistRaw('nul.ts', [serializedDagOf(`${bundle}_nul`)], { sourceCode: 'export default 1;\u0000\n' });
    expect(res.status, JSON.stringify(res.body)).not.toBe(500);
  });

  it('a NUL character inside a DAG param (jsonb) is not a 500', async () => {
    const res = await persistRaw('nulp.ts', [serializedDagOf(`${bundle}_nulp`, { params: { sep: '\u0000' } })]);
    expect(res.status, JSON.stringify(res.body)).not.toBe(500);
  });

  it('a NUL character in an import error stack trace is not a 500', async () => {
    const res = await persistRaw('nule.ts', [], { importError: { stacktrace: 'Error: bad byte \u0000 here' } });
    expect(res.status, JSON.stringify(res.body)).not.toBe(500);
  });

  it('a parse time the schema accepts but Postgres cannot store (year 0000) is a 400, not a 500', async () => {
    const res = await persistRaw('y0.ts', [], { parseStartedAt: '0000-01-01T00:00:00Z', parseFinishedAt: '0000-01-01T00:00:01Z' });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
  });
});

describe('hasImportErrors', () => {
  it("a file that starts failing to import marks the DAGs it defined with has_import_errors (README: 'True while the DAG's file has an import error')", async () => {
    const id = `${bundle}_broken_later`;
    expect((await persistRaw('f.ts', [serializedDagOf(id)])).status).toBe(200);
    // The file now throws at import time: it defines nothing and has an import error.
    expect((await persistRaw('f.ts', [], { importError: { stacktrace: 'Error: boom\n    at f.ts:1:7' } })).status).toBe(200);
    const [ie] = await rows(db(), 'select filename from import_error where bundle_name = $1', [bundle]);
    expect(ie).toMatchObject({ filename: 'f.ts' });
    const [row] = await rows(db(), 'select has_import_errors from dag where dag_id = $1', [id]);
    expect(row!.has_import_errors).toBe(true);
  });
});

describe('a file defining many DAGs', () => {
  // Dynamic DAG generation makes files with thousands of DAGs; their persist is a handful of
  // statements, not a few per DAG (timings live in `pnpm bench`, not here).
  it('2,000 DAGs in one file land in one persist, and an unchanged re-parse makes no versions', async () => {
    const dags = Array.from({ length: 2_000 }, (_, i) => serializedDagOf(`${bundle}_many_${i}`));
    const first = await persistRaw('many.ts', dags);
    const again = await persistRaw('many.ts', dags);
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(first.body.result.data.dags.filter((d: { newVersion: boolean }) => d.newVersion)).toHaveLength(2_000);
    expect(again.body.result.data.dags.filter((d: { newVersion: boolean }) => d.newVersion)).toHaveLength(0);
    const [counts] = await rows(
      db(),
      'select (select count(*)::int from dag where bundle_name = $1) as dags, (select count(*)::int from dag_version where bundle_name = $2) as versions, (select count(*)::int from serialized_dag sd join dag_version dv on dv.id = sd.dag_version_id where dv.bundle_name = $3) as serialized',
      [bundle, bundle, bundle],
    );
    expect(counts).toEqual({ dags: 2_000, versions: 2_000, serialized: 2_000 });
  }, 120_000);
});
