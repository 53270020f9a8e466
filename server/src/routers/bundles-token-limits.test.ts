import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/server.ts';

/** The token's `bundles` claim must hold on every write, reconcile's deactivation included. */

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
});
afterAll(() => ts.close());

describe('bundles claim on reconcile', () => {
  it("a token limited to bundle 'a' cannot deactivate bundle 'b' by reconciling its group without it", async () => {
    const full = ts.client(await ts.processorToken());
    await full.bundles.reconcile.mutate({ group: 'shared', bundles: [{ name: 'a', kind: 'local' }, { name: 'b', kind: 'local' }] });

    const onlyA = await ts.processorToken({ bundles: ['a'] });
    const res = await ts.mutate('bundles.reconcile', { group: 'shared', bundles: [{ name: 'a', kind: 'local' }] }, onlyA);

    const { bundles } = await full.bundles.state.query({ names: ['a', 'b'] });
    const active = Object.fromEntries(bundles.map((b) => [b.name, b.active]));
    // Either the call is refused (403 naming 'b') or it leaves 'b' alone; here it deactivates 'b'.
    expect({ status: res.status, body: res.body?.result?.data ?? res.body?.error?.message, b: active.b }).toMatchObject({ b: true });
  });

  it("a token limited to bundle 'a' cannot deactivate a whole group with an empty reconcile", async () => {
    const full = ts.client(await ts.processorToken());
    await full.bundles.reconcile.mutate({ group: 'g2', bundles: [{ name: 'c', kind: 'local' }] });
    const onlyA = await ts.processorToken({ bundles: ['a'] });
    await ts.mutate('bundles.reconcile', { group: 'g2', bundles: [] }, onlyA);
    const { bundles } = await full.bundles.state.query({ names: ['c'] });
    expect(bundles[0]!.active).toBe(true);
  });
});
