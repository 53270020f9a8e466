import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '@dagproc/server/testing/server';
import { rows } from '@dagproc/server/testing/sql';
import { TempBundle, dagFile } from './helpers/bundle.ts';
import { until } from './helpers/poll.ts';
import { startProcessor, writeToken, type ProcessorHandle } from './helpers/processor.ts';

const CLI = fileURLToPath(new URL('../server/src/cli/dagproc.ts', import.meta.url));
let ts: TestServer;
let bundle: TempBundle;
let processor: ProcessorHandle;
let tokenPath: string;
const db = () => ts.testDb.database.db;

/** Runs the CLI in its own process (asynchronously: the server under test shares this event loop). */
function jobsCheck(): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CLI, 'jobs', 'check', '--job-type', 'DagProcessorJob', '--hostname', hostname()],
      { env: { PATH: process.env.PATH ?? '', DAGPROC_API_URL: ts.url, DAGPROC_API_TOKEN_PATH: tokenPath, DAGPROC_HEALTH_CHECK_THRESHOLD: '5' } },
      (error, stdout, stderr) => resolve({ status: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  ts = await startTestServer();
  bundle = new TempBundle();
  bundle.write('before.ts', dagFile('before'));
  tokenPath = writeToken(await ts.processorToken());
  processor = startProcessor({ apiUrl: ts.url, tokenPath, bundles: [{ name: 'b', path: bundle.root }] });
  await until(async () => (await rows(db(), "select * from dag where dag_id = 'before'")).length === 1, 'the first DAG');
}, 60_000);

afterAll(async () => {
  await processor.stop();
  bundle.dispose();
  await ts.close();
});

describe('the processor and the API server', () => {
  it('`dagproc jobs check` finds the running processor through the API with its token', async () => {
    const result = await jobsCheck();
    expect(result, result.stderr).toMatchObject({ status: 0, stdout: 'Found one alive job.\n' });
  });

  it('the processor survives the server being stopped and started, and catches up', async () => {
    await ts.stop();
    bundle.write('during.ts', dagFile('during'));
    await processor.waitForLog((l) => l.level === 'warn' && /API unavailable/.test(l.msg), 'the outage to be noticed');
    await new Promise((r) => setTimeout(r, 3_000)); // an outage of some seconds
    expect(processor.child.exitCode).toBeNull();
    await ts.start();
    await until(async () => (await rows(db(), "select * from dag where dag_id = 'during'")).length === 1, 'the file added during the outage');
    await processor.waitForLog((l) => /API reachable again/.test(l.msg), 'the recovery to be logged');
    expect(processor.logs.filter((l) => /API unavailable/.test(l.msg))).toHaveLength(1);
    const [job] = await rows(db(), "select state, latest_heartbeat > now() - interval '5 seconds' as fresh from job");
    await until(async () => (await rows(db(), "select 1 from job where latest_heartbeat > now() - interval '3 seconds'")).length === 1, 'heartbeats to resume');
    expect(job!.state).toBe('running');
  });

  it('on SIGTERM it marks its Job complete and exits 0; jobs check then finds none alive', async () => {
    expect(await processor.stop('SIGTERM')).toBe(0);
    expect((await rows(db(), 'select state from job'))[0]!.state).toBe('success');
    const result = await jobsCheck();
    expect(result).toMatchObject({ status: 1, stdout: '', stderr: 'No alive jobs found.\n' });
  });
});

describe('processor start-up refuses bad configuration with one line', () => {
  it.each([
    [{ DAGPROC_API_TOKEN_PATH: '/nonexistent/token' }, /^dagproc processor: DAGPROC_API_TOKEN_PATH: \/nonexistent\/token cannot be read \(ENOENT\)$/],
    [{ DAGPROC_BUNDLES: '[{"name": "x"' }, /^dagproc processor: DAGPROC_BUNDLES: /],
    [{ DAGPROC_FILE_PARSE_TIMEOUT: 'soon' }, /^dagproc processor: DAGPROC_FILE_PARSE_TIMEOUT: .*\(got "soon"\)$/],
    [{ DAGPROC_BUNDLES: '[{"name": "x", "kind": "local", "path": "/no/such/folder"}]' }, /^dagproc processor: DAGPROC_BUNDLES\[0\]\.path: /],
  ])('%j', async (env, expected) => {
    const handle = startProcessor({ apiUrl: ts.url, tokenPath, bundles: [{ name: 'b', path: bundle.root }], env: env as Record<string, string> });
    expect(await handle.exited).toBe(2);
    expect(handle.stderr.filter(Boolean)).toEqual([expect.stringMatching(expected)]);
  });
});
