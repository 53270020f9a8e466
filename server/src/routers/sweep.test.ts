import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { persistInputOf, serializedDagOf } from '@dagproc/shared/testing';
import { startTestServer, type TestServer } from '../testing/server.ts';
import { rows } from '../testing/sql.ts';

let ts: TestServer;
let api: ReturnType<TestServer['client']>;
let bundle: string;
let seq = 0;
const db = () => ts.testDb.database.db;

beforeAll(async () => {
  ts = await startTestServer();
  api = ts.client(await ts.processorToken());
});
afterAll(() => ts.close());
beforeEach(async () => {
  bundle = `s${++seq}`;
  await api.bundles.reconcile.mutate({ group: bundle, bundles: [{ name: bundle, kind: 'local' }] });
});

/** A persist at a given moment (seconds from an arbitrary epoch), as the processor would send it. */
function persistAt(file: string, dagIds: string[], atSeconds: number, extra: Parameters<typeof persistInputOf>[2] = {}) {
  const at = new Date(Date.UTC(2026, 0, 1) + atSeconds * 1000);
  return api.parsing.persist.mutate(
    persistInputOf(file, dagIds.map((id) => serializedDagOf(id)), {
      bundleName: bundle,
      parseStartedAt: at.toISOString(),
      parseFinishedAt: at.toISOString(),
      ...extra,
    }),
  );
}
const stale = async (id: string) => (await rows(db(), 'select is_stale from dag where dag_id = $1', [id]))[0]!.is_stale;

describe('stale DAGs', () => {
  it("a deleted file's DAGs become stale and its import error goes", async () => {
    await persistAt('keep.ts', [`${bundle}_keep`], 0);
    await persistAt('gone.ts', [`${bundle}_gone`], 0);
    await persistAt('broken.ts', [], 0, { importError: { stacktrace: 'Error: boom' } });
    const swept = await api.dags.sweepStale.mutate({ bundleName: bundle, files: ['keep.ts'], staleDagThreshold: 50 });
    expect(swept.staleDagIds).toEqual([`${bundle}_gone`]);
    expect(await stale(`${bundle}_keep`)).toBe(false);
    expect(await api.importErrors.purgeMissing.mutate({ bundleName: bundle, files: ['keep.ts'] })).toEqual({ deleted: 1 });
  });

  it('a file re-parsed past the threshold without its DAG makes that DAG stale', async () => {
    await persistAt('f.ts', [`${bundle}_a`, `${bundle}_b`], 0);
    await persistAt('f.ts', [`${bundle}_a`], 30); // 30 s later: within the 50 s threshold
    expect(await stale(`${bundle}_b`)).toBe(false);
    await persistAt('f.ts', [`${bundle}_a`], 60); // 60 s after b's last parse
    expect(await stale(`${bundle}_b`)).toBe(true);
    expect(await stale(`${bundle}_a`)).toBe(false);
  });

  it('the sweep applies the threshold rule to files parsed since', async () => {
    await persistAt('f.ts', [`${bundle}_a`, `${bundle}_b`], 0);
    await persistAt('f.ts', [`${bundle}_a`], 40);
    // Time passes: the file's latest parse is recorded 100 s after b's, by a parse that did not define b.
    await rows(db(), "update parsed_file set parse_finished_at = parse_finished_at + interval '60 seconds' where bundle_name = $1", [bundle]);
    const swept = await api.dags.sweepStale.mutate({ bundleName: bundle, files: ['f.ts'], staleDagThreshold: 50 });
    expect(swept.staleDagIds).toEqual([`${bundle}_b`]);
  });

  it('a file that is merely not due never makes its DAGs stale', async () => {
    await persistAt('quiet.ts', [`${bundle}_q`], 0);
    await rows(db(), "update dag set last_parsed_time = now() - interval '1 day' where dag_id = $1", [`${bundle}_q`]);
    const swept = await api.dags.sweepStale.mutate({ bundleName: bundle, files: ['quiet.ts'], staleDagThreshold: 50 });
    expect(swept.staleDagIds).toEqual([]);
  });

  it('a stale DAG defined again is live again', async () => {
    await persistAt('back.ts', [`${bundle}_back`], 0);
    await api.dags.sweepStale.mutate({ bundleName: bundle, files: [], staleDagThreshold: 50 });
    expect(await stale(`${bundle}_back`)).toBe(true);
    await persistAt('back.ts', [`${bundle}_back`], 100);
    expect(await stale(`${bundle}_back`)).toBe(false);
  });

  it("warnings of stale DAGs are purged; live DAGs' warnings stay", async () => {
    const w = (id: string) => [{ dagId: id, warningType: 'non-existent pool', message: 'x' }];
    await persistAt('live.ts', [`${bundle}_live`], 0, { warnings: w(`${bundle}_live`) });
    await persistAt('dead.ts', [`${bundle}_dead`], 0, { warnings: w(`${bundle}_dead`) });
    await api.dags.sweepStale.mutate({ bundleName: bundle, files: ['live.ts'], staleDagThreshold: 50 });
    expect(await api.warnings.purgeInactive.mutate({ bundleNames: [bundle] })).toEqual({ deleted: 1 });
    const left = await rows(db(), 'select dag_id from dag_warning where dag_id like $1', [`${bundle}_%`]);
    expect(left).toEqual([{ dag_id: `${bundle}_live` }]);
  });
});
