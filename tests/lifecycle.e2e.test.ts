import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '@dagproc/server/testing/server';
import { rows } from '@dagproc/server/testing/sql';
import { TempBundle, dagFile } from './helpers/bundle.ts';
import { dagQueries } from './helpers/dags.ts';
import { until } from './helpers/poll.ts';
import { startProcessor, writeToken, type ProcessorHandle } from './helpers/processor.ts';

/**
 * A long-running processor watching a bundle while files are added, changed, moved and
 * deleted, with a short file interval and refresh so each change lands within seconds.
 */
let ts: TestServer;
let bundle: TempBundle;
let processor: ProcessorHandle;
const db = () => ts.testDb.database.db;
const { dagRow, versions } = dagQueries(() => ts);

beforeAll(async () => {
  ts = await startTestServer();
  bundle = new TempBundle();
  bundle.write('first.ts', dagFile('first'));
  processor = startProcessor({
    apiUrl: ts.url,
    tokenPath: writeToken(await ts.processorToken()),
    bundles: [{ name: 'live', path: bundle.root }],
    env: { DAGPROC_MIN_FILE_PROCESS_INTERVAL: '1', DAGPROC_STALE_DAG_THRESHOLD: '2' },
  });
  await until(() => dagRow('first'), 'the first DAG to land');
}, 60_000);

afterAll(async () => {
  expect(await processor.stop()).toBe(0);
  bundle.dispose();
  await ts.close();
});

describe('a running processor follows its bundle', () => {
  it('a file added later is parsed and its DAG lands', async () => {
    bundle.write('nested/added.ts', dagFile('added'));
    const row = await until(() => dagRow('added'), 'the added DAG');
    expect(row).toMatchObject({ relative_fileloc: 'nested/added.ts', bundle_name: 'live', is_stale: false });
  });

  it('a changed file makes a new version; re-parsing it unchanged does not', async () => {
    expect(await versions('first')).toEqual([1]);
    bundle.write('first.ts', dagFile('first', "description: 'now documented',"));
    await until(async () => (await versions('first')).length === 2, 'version 2 of first');
    const [latest] = await rows(db(), "select data from serialized_dag sd join dag_version dv on dv.id = sd.dag_version_id where dv.dag_id = 'first' and dv.version_number = 2");
    expect(latest!.data.description).toBe('now documented');
    const parsedAt = (await dagRow('first'))!.last_parsed_time as Date;
    await until(async () => ((await dagRow('first'))!.last_parsed_time as Date) > parsedAt, 'another parse of first');
    expect(await versions('first')).toEqual([1, 2]);
  });

  it('a moved file takes its DAG with it, without a new version', async () => {
    bundle.write('mover.ts', dagFile('mover'));
    await until(() => dagRow('mover'), 'the mover DAG');
    bundle.move('mover.ts', 'moved/here.ts');
    await until(async () => (await dagRow('mover'))?.relative_fileloc === 'moved/here.ts', 'the DAG to follow its file');
    expect(await versions('mover')).toEqual([1]);
    expect((await dagRow('mover'))!.is_stale).toBe(false);
  });

  it("a deleted file's DAG becomes stale", async () => {
    bundle.write('doomed.ts', dagFile('doomed'));
    await until(() => dagRow('doomed'), 'the doomed DAG');
    bundle.remove('doomed.ts');
    await until(async () => (await dagRow('doomed'))?.is_stale === true, 'the DAG to go stale');
  });

  it('a file that starts throwing gets an import error, which goes when it is fixed', async () => {
    bundle.write('flaky.ts', `throw new Error('not today');\n`);
    await until(async () => (await rows(db(), "select * from import_error where filename = 'flaky.ts'")).length === 1, 'the import error');
    bundle.write('flaky.ts', dagFile('flaky'));
    await until(async () => (await rows(db(), "select * from import_error where filename = 'flaky.ts'")).length === 0, 'the import error to clear');
    expect(await dagRow('flaky')).toBeDefined();
  });

  it('a DAG id already owned by another file stays with its owner; the newcomer gets an import error naming it', async () => {
    bundle.write('copycat.ts', dagFile('first'));
    const [error] = await until(async () => {
      const found = await rows(db(), "select stacktrace from import_error where filename = 'copycat.ts'");
      return found.length ? found : undefined;
    }, 'the duplicate to be reported');
    expect(error!.stacktrace).toContain("dag id 'first' is already defined by first.ts");
    expect((await dagRow('first'))!.relative_fileloc).toBe('first.ts');
  });

  it('a DAG whose serialized form changes on every parse without its file changing gets a warning', async () => {
    bundle.write('clock.ts', `import { dag } from '@dagproc/sdk';
export default dag({ dagId: 'clock', params: { builtAt: Date.now() } });
`);
    const [warning] = await until(
      async () => {
        const found = await rows(db(), "select warning_type, message from dag_warning where dag_id = 'clock'");
        return found.length ? found : undefined;
      },
      'the runtime-varying warning',
    );
    expect(warning).toMatchObject({ warning_type: 'runtime varying value' });
  });
});
