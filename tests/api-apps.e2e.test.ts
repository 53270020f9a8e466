import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '@dagproc/server/testing/server';
import { rows } from '@dagproc/server/testing/sql';
import { TempBundle, dagFile } from './helpers/bundle.ts';
import { startProcessor, writeToken } from './helpers/processor.ts';

/**
 * DAGPROC_API_APPS, as Airflow's `api-server --apps`: an operator can run the processor-facing
 * API apart from the public one.
 */

const SERVER_MAIN = fileURLToPath(new URL('../server/src/main.ts', import.meta.url));

let ts: TestServer;
let bundle: TempBundle;
let apiToken: string;

beforeAll(async () => {
  ts = await startTestServer({ config: { apps: ['dag-processing'] } });
  bundle = new TempBundle();
  bundle.write('only.ts', dagFile('processed_apart'));
  apiToken = (await ts.auth.signer.mintApiToken({ subject: 'admin', lifetimeSeconds: 600 })).token;
});

afterAll(async () => {
  bundle.dispose();
  await ts.close();
});

describe('a server with DAGPROC_API_APPS=dag-processing', () => {
  it('has no public API, no dashboard and no Execution API: 404 on each', async () => {
    const auth = { authorization: `Bearer ${apiToken}` };
    for (const path of ['/api/v2/dags', '/api/v2/openapi.json', '/', '/execution/variables/x']) {
      const res = await fetch(`${ts.url}${path}`, { headers: auth });
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toEqual({ detail: `no route for GET ${path}` });
    }
  });

  it('serves the processor: readiness, and a whole parse run', async () => {
    expect((await fetch(`${ts.url}/dag-processing/health`)).status).toBe(200);
    const processor = startProcessor({
      apiUrl: ts.url,
      tokenPath: writeToken(await ts.processorToken()),
      bundles: [{ name: 'apart', path: bundle.root }],
      args: ['--num-runs', '1'],
    });
    expect(await processor.exited, processor.stderr.join('\n')).toBe(0);
    const dags = await rows(ts.testDb.database.db, 'select dag_id, bundle_name, is_stale from dag');
    expect(dags).toEqual([{ dag_id: 'processed_apart', bundle_name: 'apart', is_stale: false }]);
    expect(await rows(ts.testDb.database.db, 'select state from job')).toEqual([{ state: 'success' }]);
  });
});

describe('a bad DAGPROC_API_APPS', () => {
  it('stops `start:server` with one line naming the unknown app and exit code 2', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', SERVER_MAIN], {
      env: { PATH: process.env.PATH ?? '', DAGPROC_API_APPS: 'api,scheduler', DAGPROC_JWT_SECRET: 'x'.repeat(48), DAGPROC_DATA_DIR: '/nonexistent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout!.resume();
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(2);
    expect(stderr).toBe(
      'dagproc server: DAGPROC_API_APPS: unknown app "scheduler"; must be a comma-separated list of dag-processing, execution, api (got "api,scheduler")\n',
    );
  });
});
