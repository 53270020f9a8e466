import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/server.ts';
import { rows } from '../testing/sql.ts';

let ts: TestServer;
let api: ReturnType<TestServer['client']>;

beforeAll(async () => {
  ts = await startTestServer();
  api = ts.client(await ts.processorToken());
});
afterAll(() => ts.close());

describe('bundles', () => {
  it("reconcile activates the group's bundles and deactivates those it no longer has", async () => {
    expect(
      await api.bundles.reconcile.mutate({ group: 'g1', bundles: [{ name: 'one', kind: 'local' }, { name: 'two', kind: 'git' }] }),
    ).toEqual({ activated: ['one', 'two'], deactivated: [] });
    expect(await api.bundles.reconcile.mutate({ group: 'g1', bundles: [{ name: 'one', kind: 'local' }] })).toEqual({
      activated: [],
      deactivated: ['two'],
    });
    const { bundles } = await api.bundles.state.query({ names: ['one', 'two'] });
    expect(bundles.map((b) => [b.name, b.active]).sort()).toEqual([['one', true], ['two', false]]);
  });

  it("never deactivates another processor group's bundles", async () => {
    await api.bundles.reconcile.mutate({ group: 'team-a', bundles: [{ name: 'a-dags', kind: 'local' }] });
    await api.bundles.reconcile.mutate({ group: 'team-b', bundles: [{ name: 'b-dags', kind: 'local' }] });
    await api.bundles.reconcile.mutate({ group: 'team-b', bundles: [] });
    const { bundles } = await api.bundles.state.query({ names: ['a-dags', 'b-dags'] });
    expect(Object.fromEntries(bundles.map((b) => [b.name, b.active]))).toEqual({ 'a-dags': true, 'b-dags': false });
  });

  it("refuses to take over another group's active bundle, naming the owner", async () => {
    await api.bundles.reconcile.mutate({ group: 'owner', bundles: [{ name: 'shared-name', kind: 'local' }] });
    const res = await ts.mutate(
      'bundles.reconcile',
      { group: 'intruder', bundles: [{ name: 'shared-name', kind: 'local' }] },
      await ts.processorToken(),
    );
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain("active for processor group 'owner'");
  });

  it('sync records the version and last refresh, and state reads them back', async () => {
    await api.bundles.reconcile.mutate({ group: 'sync', bundles: [{ name: 'versioned', kind: 'git' }] });
    const at = '2026-11-25T10:00:00.000Z';
    await api.bundles.sync.mutate({ name: 'versioned', version: 'abc123', lastRefreshed: at });
    const { bundles } = await api.bundles.state.query({ names: ['versioned'] });
    expect(bundles[0]).toMatchObject({ name: 'versioned', kind: 'git', version: 'abc123', lastRefreshed: at, active: true });
  });

  it('a failed refresh records its reason and keeps the last good version; the next good sync clears it', async () => {
    await api.bundles.reconcile.mutate({ group: 'sync', bundles: [{ name: 'failing', kind: 'git' }] });
    const at = '2026-11-25T10:00:00.000Z';
    await api.bundles.sync.mutate({ name: 'failing', version: 'abc123', lastRefreshed: at });
    await api.bundles.sync.mutate({ name: 'failing', error: "fetching branch \"nope\" failed: couldn't find remote ref" });
    let [row] = (await api.bundles.state.query({ names: ['failing'] })).bundles;
    expect(row).toMatchObject({ version: 'abc123', lastRefreshed: at, lastError: "fetching branch \"nope\" failed: couldn't find remote ref" });
    const [stored] = await rows(ts.testDb.database.db, "select last_error_at from dag_bundle where name = 'failing'");
    expect(stored!.last_error_at).not.toBeNull();
    await api.bundles.sync.mutate({ name: 'failing', version: 'def456', lastRefreshed: at });
    [row] = (await api.bundles.state.query({ names: ['failing'] })).bundles;
    expect(row).toMatchObject({ version: 'def456', lastError: null });
  });

  it.each([
    [{ name: 'b' }, 'input.version: is required (null for a bundle without versions) unless error is given'],
    [{ name: 'b', version: null }, 'input.lastRefreshed: is required unless error is given'],
    [{ name: 'b', error: 'x', version: 'abc' }, 'input.version: must be left out when error is given'],
    [{ name: 'b', error: '' }, 'input.error'],
  ])('sync refuses a malformed report (%j)', async (input, message) => {
    const res = await ts.mutate('bundles.sync', input, await ts.processorToken());
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(message);
  });

  it('sync of an unknown bundle is a 412 naming it', async () => {
    const res = await ts.mutate('bundles.sync', { name: 'ghost', version: null, lastRefreshed: new Date().toISOString() }, await ts.processorToken());
    expect(res.status).toBe(412);
    expect(res.body.error.message).toContain("bundle 'ghost'");
  });

  it('duplicate names in one reconcile are a 400', async () => {
    const res = await ts.mutate(
      'bundles.reconcile',
      { group: 'g', bundles: [{ name: 'x', kind: 'local' }, { name: 'x', kind: 'local' }] },
      await ts.processorToken(),
    );
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('unique');
  });
});

describe('bundles: a processor running only some bundles (--bundle-name)', () => {
  it('activates its bundles and deactivates nothing of its group', async () => {
    await api.bundles.reconcile.mutate({ group: 'split', bundles: [{ name: 'split-a', kind: 'local' }, { name: 'split-b', kind: 'local' }] });
    expect(
      await api.bundles.reconcile.mutate({ group: 'split', bundles: [{ name: 'split-a', kind: 'local' }], deactivateOthers: false }),
    ).toEqual({ activated: [], deactivated: [] });
    const { bundles } = await api.bundles.state.query({ names: ['split-a', 'split-b'] });
    expect(bundles.every((b) => b.active)).toBe(true);
  });
});
