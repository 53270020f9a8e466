import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '@dagproc/server/testing/server';
import { rows } from '@dagproc/server/testing/sql';
import { TempBundle, dagFile } from './helpers/bundle.ts';
import { startProcessor, writeToken, type ProcessorHandle } from './helpers/processor.ts';

/** Two processors splitting one configuration with --bundle-name, side by side. */
let ts: TestServer;
const bundles = { alpha: new TempBundle(), beta: new TempBundle() };
let runs: { name: string; handle: ProcessorHandle; code: number | null }[] = [];

beforeAll(async () => {
  ts = await startTestServer();
  bundles.alpha.write('a.ts', dagFile('from_alpha'));
  bundles.beta.write('b.ts', dagFile('from_beta'));
  const configured = [
    { name: 'alpha', path: bundles.alpha.root },
    { name: 'beta', path: bundles.beta.root },
  ];
  const tokenPath = writeToken(await ts.processorToken());
  const started = ['alpha', 'beta'].map((name) => ({
    name,
    handle: startProcessor({ apiUrl: ts.url, tokenPath, bundles: configured, args: ['--num-runs', '1', '--bundle-name', name] }),
  }));
  runs = await Promise.all(started.map(async (r) => ({ ...r, code: await r.handle.exited })));
}, 60_000);

afterAll(async () => {
  bundles.alpha.dispose();
  bundles.beta.dispose();
  await ts.close();
});

describe('--bundle-name', () => {
  it('each processor parses only its own bundle, and both finish', async () => {
    for (const run of runs) {
      expect(run.code, run.handle.stderr.join('\n')).toBe(0);
      const started = run.handle.logs.find((l) => l.msg === 'processor started');
      expect(started!.bundles).toEqual([run.name]);
      const parsed = run.handle.logs.filter((l) => l.msg === 'file parsed').map((l) => l.bundleName);
      expect(new Set(parsed)).toEqual(new Set([run.name]));
    }
    const dags = await rows(ts.testDb.database.db, 'select dag_id, bundle_name from dag order by 1');
    expect(dags).toEqual([
      { dag_id: 'from_alpha', bundle_name: 'alpha' },
      { dag_id: 'from_beta', bundle_name: 'beta' },
    ]);
  });

  it("neither deactivates the other's bundle", async () => {
    const active = await rows(ts.testDb.database.db, 'select name, active from dag_bundle order by 1');
    expect(active).toEqual([
      { name: 'alpha', active: true },
      { name: 'beta', active: true },
    ]);
  });
});
