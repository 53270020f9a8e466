import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '@dagproc/server/testing/server';
import { rows } from '@dagproc/server/testing/sql';
import { TempBundle, dagFile } from './helpers/bundle.ts';
import { until } from './helpers/poll.ts';
import { startProcessor, writeToken, type ProcessorHandle } from './helpers/processor.ts';

/** Two processors on one bundle and one database: leases keep their work from overlapping. */
let ts: TestServer;
let bundle: TempBundle;
const processors: ProcessorHandle[] = [];
const db = () => ts.testDb.database.db;

beforeAll(async () => {
  ts = await startTestServer();
  bundle = new TempBundle();
  // Each callback run reads a Variable named after its run; the read is audited, so the audit log counts runs.
  bundle.write('alerts.ts', `import { dag, task, Variable } from '@dagproc/sdk';
export default dag({
  dagId: 'alerts',
  tasks: [task({ taskId: 'work' })],
  onFailure: async (ctx) => { await Variable.get('ran-' + ctx.runId, { default: 'unset' }); },
});
`);
  bundle.write('prio.ts', dagFile('prio'));
  const tokenPath = writeToken(await ts.processorToken());
  for (let i = 0; i < 2; i++) {
    processors.push(
      startProcessor({
        apiUrl: ts.url,
        tokenPath,
        bundles: [{ name: 'shared', path: bundle.root }],
        // A long interval: after the first parse only a priority request brings a file back.
        // No file watcher: the priority request must be the only thing that re-parses a file.
        env: { DAGPROC_MIN_FILE_PROCESS_INTERVAL: '3600', DAGPROC_FILE_SORT_MODE: 'alphabetical', DAGPROC_FILE_WATCH: 'false' },
      }),
    );
  }
  await until(async () => (await rows(db(), "select * from dag where dag_id in ('alerts', 'prio')")).length === 2, 'both DAGs');
}, 60_000);

afterAll(async () => {
  for (const p of processors) expect(await p.stop()).toBe(0);
  bundle.dispose();
  await ts.close();
});

describe('two processors sharing a bundle', () => {
  it('run each callback exactly once between them, and acknowledge it', async () => {
    const runs = Array.from({ length: 20 }, (_, i) => `r${i}`);
    for (const run of runs) {
      await rows(db(), "insert into callback_request (dag_id, run_id, msg) values ('alerts', $1, 'task failed')", [run]);
    }
    await until(async () => (await rows(db(), 'select id from callback_request')).length === 0, 'every callback to be acknowledged', 60_000);
    const reads = await rows(db(), "select extra->>'key' as key, count(*)::int as n from audit_log where event = 'variable.get' group by 1 order by 1");
    expect(reads).toEqual(runs.map((r) => ({ key: `ran-${r}`, n: 1 })).sort((a, b) => a.key.localeCompare(b.key)));
    const acks = await rows(db(), "select count(*)::int as n from audit_log where event = 'callback.success'");
    expect(acks[0]!.n).toBe(20);
    const byJob = await rows(db(), "select count(distinct extra->>'jobId')::int as jobs from audit_log where event = 'callback.success'");
    expect(byJob[0]!.jobs).toBeGreaterThanOrEqual(1);
  });

  it('honour a priority parse request long before the file interval', async () => {
    bundle.write('prio.ts', dagFile('prio', "description: 'changed'"));
    await new Promise((r) => setTimeout(r, 2_500)); // several loops: nothing re-parses it by itself
    const [before] = await rows(db(), "select description from dag where dag_id = 'prio'");
    expect(before!.description).toBeNull();
    await rows(db(), "insert into dag_priority_parsing_request (bundle_name, relative_fileloc) values ('shared', 'prio.ts')");
    await until(async () => (await rows(db(), "select description from dag where dag_id = 'prio'"))[0]!.description === 'changed', 'the requested re-parse');
    await until(async () => (await rows(db(), 'select id from dag_priority_parsing_request')).length === 0, 'the request row to go');
  });
});
