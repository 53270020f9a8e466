import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dagHash, WARNING_TYPE } from '@dagproc/shared';
import { persistInputOf, serializedDagOf } from '@dagproc/shared/testing';
import { startTestServer, type TestServer } from '../testing/server.ts';
import { rows } from '../testing/sql.ts';

let ts: TestServer;
let api: ReturnType<TestServer['client']>;
let bundleSeq = 0;
let bundle: string;

beforeAll(async () => {
  ts = await startTestServer();
  api = ts.client(await ts.processorToken());
});
afterAll(() => ts.close());
beforeEach(async () => {
  bundle = `b${++bundleSeq}`;
  await api.bundles.reconcile.mutate({ group: bundle, bundles: [{ name: bundle, kind: 'local' }] });
});

const db = () => ts.testDb.database.db;
const persist = (file: string, dags = [serializedDagOf(`${bundle}_a`)], o: Parameters<typeof persistInputOf>[2] = {}) =>
  api.parsing.persist.mutate(persistInputOf(file, dags, { bundleName: bundle, ...o }));

describe('parsing.persist: happy path', () => {
  it("stores a file's DAGs, their serialized form and code, and version 1", async () => {
    const dag = serializedDagOf(`${bundle}_etl`, { tags: ['etl'] });
    const result = await persist('etl.ts', [dag], { sourceCode: 'export default 1;\n' });
    expect(result).toMatchObject({ outcome: 'applied', dags: [{ dagId: dag.dagId, versionNumber: 1, newVersion: true }] });

    const [row] = await rows(db(), 'select * from dag where dag_id = $1', [dag.dagId]);
    expect(row).toMatchObject({ bundle_name: bundle, relative_fileloc: 'etl.ts', is_stale: false, tags: ['etl'] });
    const [sd] = await rows(db(), 'select data, dag_hash from serialized_dag where dag_id = $1', [dag.dagId]);
    expect(sd!.data).toEqual(dag);
    expect(sd!.dag_hash).toBe(dagHash(dag));
    const [code] = await rows(db(), 'select source_code, relative_fileloc from dag_code where dag_id = $1', [dag.dagId]);
    expect(code).toMatchObject({ source_code: 'export default 1;\n', relative_fileloc: 'etl.ts' });
  });

  it('writes a new version only when the serialized hash changes', async () => {
    const id = `${bundle}_v`;
    await persist('v.ts', [serializedDagOf(id)]);
    const same = await persist('v.ts', [serializedDagOf(id)], { sourceCode: '// only a comment changed\n' });
    expect(same.dags).toEqual([{ dagId: id, versionNumber: 1, newVersion: false }]);
    const changed = await persist('v.ts', [serializedDagOf(id, { description: 'now documented' })]);
    expect(changed.dags).toEqual([{ dagId: id, versionNumber: 2, newVersion: true }]);
    const versions = await rows(db(), 'select version_number from dag_version where dag_id = $1 order by 1', [id]);
    expect(versions.map((v) => Number(v.version_number))).toEqual([1, 2]);
    // The comment-only edit refreshed version 1's code rather than making a version.
    const [code] = await rows(db(), 'select source_code from dag_code dc join dag_version dv on dv.id = dc.dag_version_id where dv.dag_id = $1 and dv.version_number = 1', [id]);
    expect(code!.source_code).toBe('// only a comment changed\n');
  });

  it('key order in the payload never makes a new version', async () => {
    const id = `${bundle}_order`;
    const dag = serializedDagOf(id, { params: { b: 1, a: { y: 2, x: 1 } } });
    await persist('o.ts', [dag]);
    const reordered = JSON.parse(JSON.stringify({ ...dag, params: { a: { x: 1, y: 2 }, b: 1 } }));
    const again = await persist('o.ts', [reordered]);
    expect(again.dags[0]).toMatchObject({ versionNumber: 1, newVersion: false });
  });

  it('a retried persist of the same parse is a no-op', async () => {
    const input = persistInputOf('retry.ts', [serializedDagOf(`${bundle}_r`)], { bundleName: bundle });
    const first = await api.parsing.persist.mutate(input);
    const second = await api.parsing.persist.mutate(input);
    expect(first.outcome).toBe('applied');
    expect(second.outcome).toBe('duplicate');
    expect(second.dags).toEqual([{ dagId: `${bundle}_r`, versionNumber: 1, newVersion: false }]);
    const [n] = await rows(db(), 'select count(*)::int as n from dag_version where dag_id = $1', [`${bundle}_r`]);
    expect(n!.n).toBe(1);
  });

  it('an older parse never overwrites a newer one', async () => {
    const id = `${bundle}_old`;
    const t0 = Date.now();
    const newer = persistInputOf('race.ts', [serializedDagOf(id, { description: 'newer' })], {
      bundleName: bundle,
      parseStartedAt: new Date(t0).toISOString(),
      parseFinishedAt: new Date(t0 + 10).toISOString(),
    });
    const older = persistInputOf('race.ts', [serializedDagOf(id, { description: 'older' })], {
      bundleName: bundle,
      parseStartedAt: new Date(t0 - 60_000).toISOString(),
      parseFinishedAt: new Date(t0 - 59_000).toISOString(),
      importError: { stacktrace: 'Error: from the older parse' },
    });
    await api.parsing.persist.mutate(newer);
    const result = await api.parsing.persist.mutate(older);
    expect(result.outcome).toBe('superseded');
    const [row] = await rows(db(), 'select description from dag where dag_id = $1', [id]);
    expect(row!.description).toBe('newer');
    expect(await rows(db(), 'select * from import_error where bundle_name = $1', [bundle])).toEqual([]);
  });

  it("sets and clears the file's import error", async () => {
    await persist('broken.ts', [], { importError: { stacktrace: 'SyntaxError: Unexpected token (broken.ts:3:1)' } });
    const [err] = await rows(db(), 'select filename, stacktrace from import_error where bundle_name = $1', [bundle]);
    expect(err).toMatchObject({ filename: 'broken.ts', stacktrace: expect.stringContaining('SyntaxError') });
    await persist('broken.ts', [serializedDagOf(`${bundle}_fixed`)]);
    expect(await rows(db(), 'select * from import_error where bundle_name = $1', [bundle])).toEqual([]);
  });

  it("replaces the file's DAG warnings on each parse", async () => {
    const id = `${bundle}_w`;
    await persist('w.ts', [serializedDagOf(id)], { warnings: [{ dagId: id, warningType: 'non-existent pool', message: 'pool x' }] });
    expect(await rows(db(), 'select warning_type from dag_warning where dag_id = $1', [id])).toEqual([{ warning_type: 'non-existent pool' }]);
    await persist('w.ts', [serializedDagOf(id)]);
    expect(await rows(db(), 'select * from dag_warning where dag_id = $1', [id])).toEqual([]);
  });

  it('warns when a DAG serializes differently although its file did not change', async () => {
    const id = `${bundle}_now`;
    const source = 'export default dag({ params: { at: Date.now() } })\n';
    await persist('now.ts', [serializedDagOf(id, { params: { at: 1 } })], { sourceCode: source });
    const second = await persist('now.ts', [serializedDagOf(id, { params: { at: 2 } })], { sourceCode: source });
    expect(second.warnings).toEqual([expect.objectContaining({ dagId: id, warningType: WARNING_TYPE.runtimeVaryingValue })]);
    const [w] = await rows(db(), 'select warning_type, message from dag_warning where dag_id = $1', [id]);
    expect(w!.warning_type).toBe('runtime varying value');
    expect(w!.message).toContain('Date.now()');
    // An edited file that changes the DAG is an ordinary new version, not a warning.
    const third = await persist('now.ts', [serializedDagOf(id, { params: { at: 3 } })], { sourceCode: source + '// edited\n' });
    expect(third.warnings).toEqual([]);
  });

  it('deletes the priority parse requests the parse answers, in the same transaction', async () => {
    const [req] = await rows(
      db(),
      'insert into dag_priority_parsing_request (bundle_name, relative_fileloc) values ($1, $2) returning id',
      [bundle, 'p.ts'],
    );
    await persist('p.ts', [serializedDagOf(`${bundle}_p`)], { priorityRequestIds: [Number(req!.id)] });
    expect(await rows(db(), 'select * from dag_priority_parsing_request where bundle_name = $1', [bundle])).toEqual([]);
  });
});

describe('parsing.persist: DAG ownership', () => {
  it('a dag id stays with the live file that defined it first; the newcomer gets an import error naming the owner', async () => {
    const id = `${bundle}_dup`;
    await persist('first.ts', [serializedDagOf(id)]);
    const result = await persist('second.ts', [serializedDagOf(id, { description: 'impostor' }), serializedDagOf(`${bundle}_other`)]);
    expect(result.rejected).toEqual([{ dagId: id, ownerBundle: bundle, ownerFileloc: 'first.ts' }]);
    expect(result.dags.map((d) => d.dagId)).toEqual([`${bundle}_other`]);
    const [row] = await rows(db(), 'select relative_fileloc, description from dag where dag_id = $1', [id]);
    expect(row).toMatchObject({ relative_fileloc: 'first.ts', description: null });
    const [err] = await rows(db(), 'select stacktrace from import_error where bundle_name = $1 and filename = $2', [bundle, 'second.ts']);
    expect(err!.stacktrace).toContain(`dag id '${id}' is already defined by first.ts`);
  });

  it('the newcomer takes the DAG over on a later parse once the owner no longer defines it', async () => {
    const id = `${bundle}_handover`;
    await persist('owner.ts', [serializedDagOf(id)]);
    expect((await persist('new.ts', [serializedDagOf(id)])).rejected).toHaveLength(1);
    await persist('owner.ts', []);
    const later = await persist('new.ts', [serializedDagOf(id)]);
    expect(later.rejected).toEqual([]);
    expect(later.dags).toEqual([{ dagId: id, versionNumber: 1, newVersion: false }]);
    const [row] = await rows(db(), 'select relative_fileloc, is_stale from dag where dag_id = $1', [id]);
    expect(row).toMatchObject({ relative_fileloc: 'new.ts', is_stale: false });
    expect(await rows(db(), 'select filename from import_error where bundle_name = $1', [bundle])).toEqual([]);
  });

  it('a moved file hands its DAGs over at once, without a new version', async () => {
    const id = `${bundle}_moved`;
    await persist('old/place.ts', [serializedDagOf(id)]);
    await api.dags.sweepStale.mutate({ bundleName: bundle, files: ['new/place.ts'], staleDagThreshold: 50 });
    const result = await persist('new/place.ts', [serializedDagOf(id)]);
    expect(result.rejected).toEqual([]);
    expect(result.dags).toEqual([{ dagId: id, versionNumber: 1, newVersion: false }]);
    const [row] = await rows(db(), 'select relative_fileloc, is_stale from dag where dag_id = $1', [id]);
    expect(row).toMatchObject({ relative_fileloc: 'new/place.ts', is_stale: false });
  });

  it("another bundle's live DAG is never taken over", async () => {
    const id = `${bundle}_cross`;
    await persist('x.ts', [serializedDagOf(id)]);
    const other = `${bundle}x`;
    await api.bundles.reconcile.mutate({ group: other, bundles: [{ name: other, kind: 'local' }] });
    const result = await api.parsing.persist.mutate(persistInputOf('x.ts', [serializedDagOf(id)], { bundleName: other }));
    expect(result.rejected).toEqual([{ dagId: id, ownerBundle: bundle, ownerFileloc: 'x.ts' }]);
  });

  it('two files racing to define one new dag id: exactly one owns it', async () => {
    const id = `${bundle}_race`;
    const results = await Promise.all(['r1.ts', 'r2.ts', 'r3.ts'].map((f) => persist(f, [serializedDagOf(id)])));
    expect(results.filter((r) => r.rejected.length === 0)).toHaveLength(1);
    expect(results.filter((r) => r.rejected.length === 1)).toHaveLength(2);
    const [n] = await rows(db(), 'select count(*)::int as n from dag_version where dag_id = $1', [id]);
    expect(n!.n).toBe(1);
  });
});

describe('parsing.persist: bad input changes nothing', () => {
  it.each([
    ['a path escaping the bundle', { relativeFileloc: '../outside.ts' }, 'input.relativeFileloc'],
    ['an absolute path', { relativeFileloc: '/etc/passwd' }, 'input.relativeFileloc'],
    ['a wrong type', { staleDagThreshold: 'fifty' }, 'input.staleDagThreshold'],
    ['a malformed content hash', { contentHash: 'abc' }, 'input.contentHash'],
    ['a finish before the start', { parseStartedAt: '2026-01-02T00:00:00Z', parseFinishedAt: '2026-01-01T00:00:00Z' }, 'input.parseFinishedAt'],
    ['an unknown field', { surprise: true }, 'surprise'],
  ])('%s gets a 400 naming the field', async (_name, patch, field) => {
    const token = await ts.processorToken();
    const body = { ...persistInputOf('bad.ts', [serializedDagOf(`${bundle}_bad`)], { bundleName: bundle }), ...patch };
    const res = await ts.mutate('parsing.persist', body, token);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(field);
    expect(await rows(db(), 'select * from dag where bundle_name = $1', [bundle])).toEqual([]);
  });

  it('an invalid serialized DAG names the nested field', async () => {
    const token = await ts.processorToken();
    const dag = { ...serializedDagOf(`${bundle}_x`), tasks: [{ taskId: 'bad id!', upstream: [], retries: 0 }] };
    const res = await ts.mutate('parsing.persist', persistInputOf('bad.ts', [dag as never], { bundleName: bundle }), token);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('input.dags[0].tasks[0]');
  });

  it('a bundle that was never reconciled is a 412, not a 500', async () => {
    const token = await ts.processorToken();
    const res = await ts.mutate('parsing.persist', persistInputOf('x.ts', [], { bundleName: 'never-registered' }), token);
    expect(res.status).toBe(412);
    expect(res.body.error.message).toContain("bundle 'never-registered' is not registered");
  });
});

describe('parsing.persist: the steady state', () => {
  it('an unchanged re-parse moves only the parse times: same versions, fresh last_parsed_time', async () => {
    const id = `${bundle}_steady`;
    const source = 'export default dag({ dagId: "steady" })\n';
    const t0 = Date.UTC(2026, 0, 1);
    const at = (s: number) => ({ parseStartedAt: new Date(t0 + s * 1000).toISOString(), parseFinishedAt: new Date(t0 + s * 1000).toISOString() });
    await persist('steady.ts', [serializedDagOf(id)], { sourceCode: source, ...at(0) });
    const again = await persist('steady.ts', [serializedDagOf(id)], { sourceCode: source, ...at(30) });
    expect(again).toEqual({ outcome: 'applied', dags: [{ dagId: id, versionNumber: 1, newVersion: false }], rejected: [], warnings: [] });
    const [row] = await rows(db(), 'select last_parsed_time from dag where dag_id = $1', [id]);
    expect(new Date(row!.last_parsed_time).toISOString()).toBe(new Date(t0 + 30_000).toISOString());
  });

  it("a DAG moved away behind the file's back sends its next unchanged parse down the full path", async () => {
    const id = `${bundle}_moved_behind`;
    const source = '// unchanged\n';
    await persist('home.ts', [serializedDagOf(id)], { sourceCode: source });
    await rows(db(), "update dag set relative_fileloc = 'elsewhere.ts' where dag_id = $1", [id]);
    await persist('home.ts', [serializedDagOf(id)], { sourceCode: source });
    const [row] = await rows(db(), 'select relative_fileloc from dag where dag_id = $1', [id]);
    expect(row!.relative_fileloc).toBe('home.ts');
  });

  it('a runtime-varying warning clears once the DAG stops changing', async () => {
    const id = `${bundle}_settles`;
    const source = '// same file\n';
    await persist('settles.ts', [serializedDagOf(id, { params: { at: 1 } })], { sourceCode: source });
    await persist('settles.ts', [serializedDagOf(id, { params: { at: 2 } })], { sourceCode: source });
    expect(await rows(db(), 'select warning_type from dag_warning where dag_id = $1', [id])).toHaveLength(1);
    await persist('settles.ts', [serializedDagOf(id, { params: { at: 2 } })], { sourceCode: source });
    expect(await rows(db(), 'select warning_type from dag_warning where dag_id = $1', [id])).toEqual([]);
  });
});
