import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PERSIST_BATCH_MAX_FILES, type PersistFileInput } from '@dagproc/shared';
import { persistInputOf, serializedDagOf } from '@dagproc/shared/testing';
import { startTestServer, type TestServer } from '../testing/server.ts';
import { rows } from '../testing/sql.ts';

/** parsing.persistMany: several files in one request, each stored whole or not at all. */

let ts: TestServer;
let token: string;
let api: ReturnType<TestServer['client']>;
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
  bundle = `pm${++seq}`;
  await api.bundles.reconcile.mutate({ group: bundle, bundles: [{ name: bundle, kind: 'local' }] });
});

const fileOf = (file: string, dagIds: string[], o: Partial<PersistFileInput> = {}) =>
  persistInputOf(
    file,
    dagIds.map((id) => serializedDagOf(id)),
    { bundleName: bundle, ...o },
  );
const liveDags = async (b = bundle) =>
  (await rows(db(), 'select dag_id from dag where bundle_name = $1 and not is_stale order by dag_id', [b])).map((r) => r.dag_id);
const versionCount = async () =>
  Number((await rows(db(), 'select count(*)::int as n from dag_version where bundle_name = $1', [bundle]))[0]!.n);

describe('parsing.persistMany: happy path', () => {
  it("stores every file's DAGs and versions, answering one outcome per file in the order sent", async () => {
    const files = ['c.ts', 'a.ts', 'b.ts'].map((f) => fileOf(f, [`${bundle}_${f[0]}`]));
    const { results } = await api.parsing.persistMany.mutate({ files });
    expect(results).toEqual(
      ['c', 'a', 'b'].map((x) => ({
        ok: true,
        outcome: 'applied',
        dags: [{ dagId: `${bundle}_${x}`, versionNumber: 1, newVersion: true }],
        rejected: [],
        warnings: [],
      })),
    );
    expect(await liveDags()).toEqual([`${bundle}_a`, `${bundle}_b`, `${bundle}_c`]);
    const [code] = await rows(db(), 'select relative_fileloc, source_code from dag_code where dag_id = $1', [`${bundle}_a`]);
    expect(code).toMatchObject({ relative_fileloc: 'a.ts', source_code: files[1]!.sourceCode });
  });

  it('a retried batch is a no-op: every file answers duplicate and no version is added', async () => {
    const files = ['x.ts', 'y.ts'].map((f) => fileOf(f, [`${bundle}_${f[0]}`]));
    await api.parsing.persistMany.mutate({ files });
    const again = await api.parsing.persistMany.mutate({ files });
    expect(again.results.map((r) => r.ok && r.outcome)).toEqual(['duplicate', 'duplicate']);
    expect(await versionCount()).toBe(2);
  });

  it('unchanged files re-sent in a batch keep their versions and get fresh parse times', async () => {
    const t0 = Date.UTC(2026, 0, 1);
    const at = (s: number) => ({ parseStartedAt: new Date(t0 + s * 1000).toISOString(), parseFinishedAt: new Date(t0 + s * 1000).toISOString() });
    const files = (s: number) => ['s1.ts', 's2.ts'].map((f) => fileOf(f, [`${bundle}_${f.slice(0, 2)}`], { sourceCode: `// ${f}\n`, ...at(s) }));
    await api.parsing.persistMany.mutate({ files: files(0) });
    const again = await api.parsing.persistMany.mutate({ files: files(30) });
    expect(again.results.map((r) => r.ok && r.dags)).toEqual([
      [{ dagId: `${bundle}_s1`, versionNumber: 1, newVersion: false }],
      [{ dagId: `${bundle}_s2`, versionNumber: 1, newVersion: false }],
    ]);
    const times = await rows(db(), 'select last_parsed_time from dag where bundle_name = $1', [bundle]);
    expect(times.map((r) => new Date(r.last_parsed_time).toISOString())).toEqual([at(30).parseFinishedAt, at(30).parseFinishedAt]);
  });
});

describe('parsing.persistMany: new files (first persists, stored for the whole batch at once)', () => {
  it("stores each new file's rows as a one-by-one persist would: warnings of its own DAGs, its import error, its priority requests answered", async () => {
    const [req] = await rows(db(), 'insert into dag_priority_parsing_request (bundle_name, relative_fileloc) values ($1, $2) returning id', [bundle, 'n1.ts']);
    const n1 = fileOf('n1.ts', [`${bundle}_n1`], {
      warnings: [
        { dagId: `${bundle}_n1`, warningType: 'non-existent pool', message: 'pool x' },
        { dagId: `${bundle}_not_defined_here`, warningType: 'non-existent pool', message: 'ignored' },
      ],
      priorityRequestIds: [Number(req!.id)],
    });
    const n2 = fileOf('n2.ts', [`${bundle}_n2a`, `${bundle}_n2b`], { importError: { stacktrace: 'Error: half of it failed' } });
    const { results } = await api.parsing.persistMany.mutate({ files: [n1, n2] });
    expect(results[0]).toMatchObject({ ok: true, warnings: [{ dagId: `${bundle}_n1`, warningType: 'non-existent pool', message: 'pool x' }] });
    expect(results[1]).toMatchObject({ ok: true, dags: [{ versionNumber: 1, newVersion: true }, { versionNumber: 1, newVersion: true }] });
    expect(await rows(db(), 'select dag_id, warning_type from dag_warning where dag_id like $1', [`${bundle}_%`])).toEqual([
      { dag_id: `${bundle}_n1`, warning_type: 'non-existent pool' },
    ]);
    expect(await rows(db(), 'select filename, stacktrace from import_error where bundle_name = $1', [bundle])).toEqual([
      { filename: 'n2.ts', stacktrace: 'Error: half of it failed' },
    ]);
    const flags = await rows(db(), 'select dag_id, has_import_errors from dag where bundle_name = $1 order by dag_id', [bundle]);
    expect(flags.map((f) => [f.dag_id, f.has_import_errors])).toEqual([
      [`${bundle}_n1`, false],
      [`${bundle}_n2a`, true],
      [`${bundle}_n2b`, true],
    ]);
    expect(await rows(db(), 'select * from dag_priority_parsing_request where bundle_name = $1', [bundle])).toEqual([]);
    const [code] = await rows(db(), 'select dc.source_code, dv.version_number from dag_code dc join dag_version dv on dv.id = dc.dag_version_id where dc.dag_id = $1', [`${bundle}_n2b`]);
    expect(code).toEqual({ source_code: n2.sourceCode, version_number: 1 });
  });

  it('a file first stored in a batch is known as unchanged on its next parse: only its parse time moves', async () => {
    const t0 = Date.UTC(2026, 0, 1);
    const file = (s: number) =>
      fileOf('once.ts', [`${bundle}_once`], {
        sourceCode: '// once\n',
        parseStartedAt: new Date(t0 + s * 1000).toISOString(),
        parseFinishedAt: new Date(t0 + s * 1000).toISOString(),
      });
    await api.parsing.persistMany.mutate({ files: [file(0), fileOf('other.ts', [`${bundle}_other`])] });
    // Changed behind the file's back: the steady state leaves it, a full rewrite would restore it.
    await rows(db(), "update dag set description = 'edited by SQL' where dag_id = $1", [`${bundle}_once`]);
    await api.parsing.persistMany.mutate({ files: [file(30), fileOf('third.ts', [`${bundle}_third`])] });
    const [row] = await rows(db(), 'select description, last_parsed_time from dag where dag_id = $1', [`${bundle}_once`]);
    expect([row!.description, new Date(row!.last_parsed_time).toISOString()]).toEqual(['edited by SQL', new Date(t0 + 30_000).toISOString()]);
  });

  it('two new files of one batch defining the same new dag id: exactly one owns it, the other gets an import error', async () => {
    const id = `${bundle}_both`;
    const { results } = await api.parsing.persistMany.mutate({ files: [fileOf('p.ts', [id]), fileOf('q.ts', [id, `${bundle}_q`])] });
    const rejected = results.map((r) => (r.ok ? r.rejected.length : -1));
    expect(rejected.sort()).toEqual([0, 1]);
    expect(await rows(db(), 'select count(*)::int as n from dag_version where dag_id = $1', [id])).toEqual([{ n: 1 }]);
    expect(await rows(db(), 'select count(*)::int as n from import_error where bundle_name = $1', [bundle])).toEqual([{ n: 1 }]);
  });
});

describe('parsing.persistMany: unchanged files (the steady state, refreshed for the whole batch at once)', () => {
  const t0 = Date.UTC(2026, 0, 1);
  const at = (s: number) => ({ parseStartedAt: new Date(t0 + s * 1000).toISOString(), parseFinishedAt: new Date(t0 + s * 1000).toISOString() });

  it('moves the import error time of an unchanged broken file and deletes the priority requests an unchanged file answers', async () => {
    const broken = (s: number) => fileOf('broken.ts', [], { sourceCode: '// broken\n', importError: { stacktrace: 'Error: boom' }, ...at(s) });
    const fine = (s: number, priorityRequestIds: number[] = []) => fileOf('fine.ts', [`${bundle}_fine`], { sourceCode: '// fine\n', priorityRequestIds, ...at(s) });
    await api.parsing.persistMany.mutate({ files: [broken(0), fine(0)] });
    const [req] = await rows(db(), 'insert into dag_priority_parsing_request (bundle_name, relative_fileloc) values ($1, $2) returning id', [bundle, 'fine.ts']);
    const second = [broken(30), fine(30, [Number(req!.id)])];
    const { results } = await api.parsing.persistMany.mutate({ files: second });
    expect(results.map((r) => r.ok && r.outcome)).toEqual(['applied', 'applied']);
    const [error] = await rows(db(), 'select timestamp from import_error where bundle_name = $1 and filename = $2', [bundle, 'broken.ts']);
    expect(new Date(error!.timestamp).toISOString()).toBe(at(30).parseFinishedAt);
    expect(await rows(db(), 'select * from dag_priority_parsing_request where bundle_name = $1', [bundle])).toEqual([]);
    const parsed = await rows(db(), 'select parse_id from parsed_file where bundle_name = $1 order by relative_fileloc', [bundle]);
    expect(parsed.map((p) => p.parse_id)).toEqual(second.map((f) => f.parseId));
  });

  it("a file whose DAG was moved away behind its back takes the full path and gets it back; the batch's other unchanged files are refreshed", async () => {
    const file = (name: string, s: number) => fileOf(name, [`${bundle}_${name.slice(0, 4)}`], { sourceCode: `// ${name}\n`, ...at(s) });
    await api.parsing.persistMany.mutate({ files: [file('home.ts', 0), file('calm.ts', 0)] });
    await rows(db(), "update dag set relative_fileloc = 'elsewhere.ts' where dag_id = $1", [`${bundle}_home`]);
    const { results } = await api.parsing.persistMany.mutate({ files: [file('home.ts', 30), file('calm.ts', 30)] });
    expect(results.map((r) => r.ok && r.outcome)).toEqual(['applied', 'applied']);
    const dags = await rows(db(), 'select dag_id, relative_fileloc, last_parsed_time from dag where bundle_name = $1 order by dag_id', [bundle]);
    expect(dags.map((d) => [d.dag_id, d.relative_fileloc, new Date(d.last_parsed_time).toISOString()])).toEqual([
      [`${bundle}_calm`, 'calm.ts', at(30).parseFinishedAt],
      [`${bundle}_home`, 'home.ts', at(30).parseFinishedAt],
    ]);
  });
});

describe('parsing.persistMany: one file failing costs the others nothing', () => {
  it('a file with bad input gets a 400 outcome naming its field; the others are stored', async () => {
    const bad = { ...fileOf('bad.ts', []), dags: [{ ...serializedDagOf(`${bundle}_bad`), tasks: [{ taskId: 'bad id!', upstream: [], retries: 0 }] }] };
    const { results } = await api.parsing.persistMany.mutate({ files: [fileOf('good1.ts', [`${bundle}_g1`]), bad as never, fileOf('good2.ts', [`${bundle}_g2`])] });
    expect(results[1]).toEqual({ ok: false, error: { code: 'BAD_REQUEST', httpStatus: 400, message: expect.stringContaining('input.files[1].dags[0].tasks[0]') } });
    expect(results.filter((r) => r.ok)).toHaveLength(2);
    expect(await liveDags()).toEqual([`${bundle}_g1`, `${bundle}_g2`]);
  });

  it('a file defining a DAG another file owns is stored with an import error; the others are stored as usual', async () => {
    await api.parsing.persistMany.mutate({ files: [fileOf('owner.ts', [`${bundle}_owned`])] });
    const { results } = await api.parsing.persistMany.mutate({
      files: [fileOf('thief.ts', [`${bundle}_owned`, `${bundle}_mine`]), fileOf('other.ts', [`${bundle}_other`])],
    });
    expect(results[0]).toMatchObject({ ok: true, outcome: 'applied', rejected: [{ dagId: `${bundle}_owned`, ownerFileloc: 'owner.ts' }] });
    expect(results[1]).toMatchObject({ ok: true, outcome: 'applied', rejected: [] });
    const [owner] = await rows(db(), 'select relative_fileloc from dag where dag_id = $1', [`${bundle}_owned`]);
    expect(owner!.relative_fileloc).toBe('owner.ts');
    expect(await liveDags()).toEqual([`${bundle}_mine`, `${bundle}_other`, `${bundle}_owned`]);
    const errors = await rows(db(), 'select filename from import_error where bundle_name = $1', [bundle]);
    expect(errors).toEqual([{ filename: 'thief.ts' }]);
  });

  it("a file of a bundle the token does not cover gets a 403 outcome; the token's own bundles are stored", async () => {
    const other = `${bundle}-other`;
    await api.bundles.reconcile.mutate({ group: other, bundles: [{ name: other, kind: 'local' }] });
    const limited = ts.client(await ts.processorToken({ bundles: [bundle] }));
    const { results } = await limited.parsing.persistMany.mutate({
      files: [fileOf('mine.ts', [`${bundle}_mine`]), fileOf('theirs.ts', [`${bundle}_theirs`], { bundleName: other })],
    });
    expect(results[1]).toEqual({ ok: false, error: { code: 'FORBIDDEN', httpStatus: 403, message: `this token may not access bundle '${other}'` } });
    expect(await liveDags()).toEqual([`${bundle}_mine`]);
    expect(await liveDags(other)).toEqual([]);
  });

  it('a file of an unregistered bundle gets a 412 outcome; the others are stored', async () => {
    const { results } = await api.parsing.persistMany.mutate({
      files: [fileOf('ghost.ts', [`${bundle}_ghost`], { bundleName: 'never-registered' }), fileOf('real.ts', [`${bundle}_real`])],
    });
    expect(results[0]).toMatchObject({ ok: false, error: { httpStatus: 412, message: expect.stringContaining("bundle 'never-registered' is not registered") } });
    expect(results[1]).toMatchObject({ ok: true, outcome: 'applied' });
    expect(await liveDags()).toEqual([`${bundle}_real`]);
  });

  it('a file the database refuses midway is rolled back alone: a 500 outcome for it, the others stored whole', async () => {
    // A database-side failure no input check foresees, for one file only.
    await rows(
      db(),
      `create or replace function refuse_${bundle}() returns trigger language plpgsql as $f$
       begin raise exception 'refused by test trigger'; end $f$`,
    );
    await rows(
      db(),
      `create trigger refuse_${bundle} before insert on dag_code for each row
       when (new.bundle_name = '${bundle}' and new.relative_fileloc = 'doomed.ts') execute function refuse_${bundle}()`,
    );
    try {
      const { results } = await api.parsing.persistMany.mutate({
        files: [fileOf('before.ts', [`${bundle}_before`]), fileOf('doomed.ts', [`${bundle}_doomed`]), fileOf('after.ts', [`${bundle}_after`])],
      });
      expect(results.map((r) => (r.ok ? r.outcome : r.error.httpStatus))).toEqual(['applied', 500, 'applied']);
      expect(await liveDags()).toEqual([`${bundle}_after`, `${bundle}_before`]);
      // Nothing of the doomed file: no DAG row, no parse recorded (so its retry is not a "duplicate").
      expect(await rows(db(), 'select * from parsed_file where bundle_name = $1 and relative_fileloc = $2', [bundle, 'doomed.ts'])).toEqual([]);
      expect(await versionCount()).toBe(2);
    } finally {
      await rows(db(), `drop trigger refuse_${bundle} on dag_code`);
    }
  });
});

describe('parsing.persistMany: ordering', () => {
  const parseAt = (seconds: number) => ({
    parseStartedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seconds)).toISOString(),
    parseFinishedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seconds + 1)).toISOString(),
  });
  const described = (description: string, seconds: number) =>
    persistInputOf('race.ts', [serializedDagOf(`${bundle}_race`, { description })], { bundleName: bundle, ...parseAt(seconds) });

  it('an older parse of a file after a newer one in the same batch is superseded, and makes no version', async () => {
    const { results } = await api.parsing.persistMany.mutate({ files: [described('newer', 20), described('older', 10)] });
    expect(results.map((r) => r.ok && r.outcome)).toEqual(['applied', 'superseded']);
    const [row] = await rows(db(), 'select description from dag where dag_id = $1', [`${bundle}_race`]);
    expect(row!.description).toBe('newer');
    expect(await versionCount()).toBe(1);
  });

  it('an older parse of a file in a later batch is superseded', async () => {
    await api.parsing.persistMany.mutate({ files: [described('newer', 20), fileOf('x.ts', [`${bundle}_x`])] });
    const { results } = await api.parsing.persistMany.mutate({ files: [fileOf('y.ts', [`${bundle}_y`]), described('older', 10)] });
    expect(results.map((r) => r.ok && r.outcome)).toEqual(['applied', 'superseded']);
    const [row] = await rows(db(), 'select description from dag where dag_id = $1', [`${bundle}_race`]);
    expect(row!.description).toBe('newer');
  });
});

describe('parsing.persistMany: the batch itself', () => {
  it.each([
    ['no files', () => ({ files: [] }), 'input.files: a batch holds at least one file result'],
    [
      'more files than a batch holds',
      () => ({ files: Array.from({ length: PERSIST_BATCH_MAX_FILES + 1 }, (_, i) => fileOf(`f${i}.ts`, [])) }),
      `input.files: a batch holds at most ${PERSIST_BATCH_MAX_FILES} file results`,
    ],
    [
      'more DAGs across its files than a batch holds',
      () => ({ files: [0, 1].map((f) => fileOf(`big${f}.ts`, Array.from({ length: 5_001 }, (_, i) => `${bundle}_${f}_${i}`))) }),
      'input.files: a batch holds at most 10000 DAGs',
    ],
    ['an entry that is not a file result', () => ({ files: ['a.ts'] }), 'input.files[0]: each entry of files'],
    ['an unknown field', () => ({ files: [fileOf('a.ts', [])], extra: 1 }), 'extra'],
  ])('%s is a 400 naming it, and nothing is stored', async (_name, body, message) => {
    const res = await ts.mutate('parsing.persistMany', body(), token);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(message);
    expect(await rows(db(), 'select * from parsed_file where bundle_name = $1', [bundle])).toEqual([]);
  });

  it('a batch without a token is a 401 and stores nothing', async () => {
    const res = await ts.mutate('parsing.persistMany', { files: [fileOf('a.ts', [`${bundle}_a`])] });
    expect(res.status).toBe(401);
    expect(await liveDags()).toEqual([]);
  });
});
