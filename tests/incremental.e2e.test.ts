import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '@dagproc/server/testing/server';
import { rows } from '@dagproc/server/testing/sql';
import { TempBundle, dagFile } from './helpers/bundle.ts';
import { dagQueries } from './helpers/dags.ts';
import { until } from './helpers/poll.ts';
import { startProcessor, writeToken, type ProcessorHandle } from './helpers/processor.ts';

/**
 * Incremental parsing end to end: the real server and a real processor process with a 1 s
 * file interval and the file watcher off, so only incremental parsing's own checks can find a
 * change. A static file stops being parsed; editing a helper it imports (transitively, from
 * outside its folder) makes a new version; a file reading a Variable is parsed every time;
 * and the skipped file's DAG does not go stale.
 */
let ts: TestServer;
let bundle: TempBundle;
let processor: ProcessorHandle;
const db = () => ts.testDb.database.db;
const { dagRow, versions } = dagQueries(() => ts);
const latestTags = async (dagId: string) =>
  (
    await rows(
      db(),
      `select sd.data from serialized_dag sd join dag_version dv on dv.id = sd.dag_version_id
       where dv.dag_id = $1 order by dv.version_number desc limit 1`,
      [dagId],
    )
  )[0]?.data.tags as string[] | undefined;
const parses = (relativeFileloc: string) =>
  processor.logs.filter((l) => l.msg === 'file parsed' && l.relativeFileloc === relativeFileloc).length;

beforeAll(async () => {
  ts = await startTestServer();
  await rows(db(), "insert into variable (key, val) values ('target', 'prod')");
  bundle = new TempBundle();
  bundle.write('dags/etl.ts', `import { dag, task } from '@dagproc/sdk';
import { team } from '../lib/owner.ts';
export default dag({ dagId: 'etl', schedule: '@daily', tags: [team], tasks: [task({ taskId: 'extract' })] });
`);
  bundle.write('lib/owner.ts', `export { team } from './teams/current.ts';\n`);
  bundle.write('lib/teams/current.ts', `export const team = 'data-team';\n`);
  bundle.write('dags/reads.ts', `import { dag, Variable } from '@dagproc/sdk';
const target = await Variable.get('target');
export default dag({ dagId: 'reads', schedule: null, tags: [target] });
`);
  // Helpers are not DAG files: kept out of the listing, as a bundle's library would be.
  bundle.write('.dagprocignore', 'lib/\n');
  processor = startProcessor({
    apiUrl: ts.url,
    tokenPath: writeToken(await ts.processorToken()),
    bundles: [{ name: 'inc', path: bundle.root }],
    env: {
      DAGPROC_MIN_FILE_PROCESS_INTERVAL: '1',
      DAGPROC_STALE_DAG_THRESHOLD: '1',
      DAGPROC_FILE_WATCH: 'false',
      DAGPROC_INCREMENTAL_PARSING: 'true',
    },
  });
  await until(() => dagRow('etl'), 'the etl DAG to land');
}, 60_000);

afterAll(async () => {
  expect(await processor.stop()).toBe(0);
  bundle.dispose();
  await ts.close();
});

describe('incremental parsing with a real server and processor', () => {
  it('a static file is parsed twice and then skipped, while a file reading a Variable is parsed every cycle', async () => {
    await until(() => parses('dags/reads.ts') >= 6, 'six parses of the Variable-reading file', 60_000);
    expect(parses('dags/etl.ts')).toBe(2);
    expect(await versions('etl')).toEqual([1]);
  });

  it('editing a transitively imported helper outside the file\'s folder makes a new version', async () => {
    bundle.write('lib/teams/current.ts', `export const team = 'platform-team';\n`);
    await until(async () => (await versions('etl')).length === 2, 'version 2 of etl');
    expect(await latestTags('etl')).toEqual(['platform-team']);
  });

  it('a Variable changed in the database reaches the DAG on the next cycle', async () => {
    await rows(db(), "update variable set val = 'staging' where key = 'target'");
    await until(async () => (await latestTags('reads'))?.[0] === 'staging', 'the reads DAG to see the new value');
  });

  it('a skipped file\'s DAG does not go stale when its bundle is swept', async () => {
    // The change made etl parse again (3), and one identical parse more (4) makes it static again.
    await until(() => parses('dags/etl.ts') === 4, 'etl to be parsed twice after the change');
    const skippedSince = parses('dags/etl.ts');
    // A new file changes the listing, which makes the processor sweep the bundle for stale DAGs.
    bundle.write('dags/added.ts', dagFile('added'));
    await until(() => dagRow('added'), 'the added DAG');
    await until(() => parses('dags/reads.ts') >= parses('dags/added.ts') + 2, 'two more cycles');
    expect(parses('dags/etl.ts')).toBe(skippedSince);
    expect(await dagRow('etl')).toMatchObject({ is_stale: false });
  });
});
