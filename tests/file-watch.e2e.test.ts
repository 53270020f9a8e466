import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '@dagproc/server/testing/server';
import { TempBundle, dagFile } from './helpers/bundle.ts';
import { dagQueries } from './helpers/dags.ts';
import { until } from './helpers/poll.ts';
import { startProcessor, writeToken, type ProcessorHandle } from './helpers/processor.ts';

/**
 * The file-watch trigger end to end: a processor whose file interval and bundle refresh are an
 * hour, so only a file-system event can bring a change in while the test runs.
 */
let ts: TestServer;
let bundle: TempBundle;
let processor: ProcessorHandle;
const { dagRow, versions } = dagQueries(() => ts);

beforeAll(async () => {
  ts = await startTestServer();
  bundle = new TempBundle();
  bundle.write('etl.ts', `import { dag } from '@dagproc/sdk';
import { team } from './lib/team.ts';
export default dag({ dagId: 'etl', schedule: null, tags: [team] });
`);
  bundle.write('lib/team.ts', `export const team = 'a';\n`);
  bundle.write('.dagprocignore', 'lib/\n');
  processor = startProcessor({
    apiUrl: ts.url,
    tokenPath: writeToken(await ts.processorToken()),
    bundles: [{ name: 'watched', path: bundle.root }],
    env: {
      DAGPROC_MIN_FILE_PROCESS_INTERVAL: '3600',
      DAGPROC_BUNDLES: JSON.stringify([{ name: 'watched', kind: 'local', path: bundle.root, refreshInterval: 3600 }]),
      DAGPROC_FILE_WATCH: 'true',
    },
  });
  await until(() => dagRow('etl'), 'the etl DAG to land', 60_000);
}, 90_000);

afterAll(async () => {
  expect(await processor.stop()).toBe(0);
  bundle.dispose();
  await ts.close();
});

describe('the file-watch trigger', () => {
  it('an edited helper makes a new version of the DAG importing it, without waiting for the interval', async () => {
    bundle.write('lib/team.ts', `export const team = 'b';\n`);
    await until(async () => (await versions('etl')).length === 2, 'version 2 of etl');
  });

  it('a new file is found without waiting for the listing', async () => {
    bundle.write('added.ts', dagFile('added'));
    const row = await until(() => dagRow('added'), 'the added DAG');
    expect(row).toMatchObject({ relative_fileloc: 'added.ts', is_stale: false });
  });
});
