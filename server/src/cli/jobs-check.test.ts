import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/server.ts';
import { rows } from '../testing/sql.ts';
import { jobsCheckCommand } from './jobs-check.ts';
import { writeTokenFile } from './provision-token.ts';

let ts: TestServer;
let dir: string;
let tokenPath: string;
let processorToken: string;

beforeAll(async () => {
  ts = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'dagproc-jobs-check-'));
  tokenPath = join(dir, 'processor.token');
  processorToken = await ts.processorToken();
  await writeTokenFile(tokenPath, processorToken);
});
afterAll(async () => {
  await ts.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await rows(ts.testDb.database.db, 'delete from job');
});

async function check(argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await jobsCheckCommand(
    ['--job-type', 'DagProcessorJob', ...argv],
    { DAGPROC_API_URL: ts.url, DAGPROC_API_TOKEN_PATH: tokenPath, DAGPROC_HEALTH_CHECK_THRESHOLD: '30', ...env },
    { stdout: (t) => out.push(t), stderr: (t) => err.push(t) },
  );
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** A processor's Job as `jobs.register` makes it, heartbeating now or `ageSeconds` ago. */
async function job(host: string, options: { ageSeconds?: number; state?: string } = {}) {
  const { jobId } = await ts.client(processorToken).jobs.register.mutate({ jobType: 'DagProcessorJob', hostname: host, unixname: 'dagproc', pid: 4242 });
  await rows(
    ts.testDb.database.db,
    "update job set latest_heartbeat = now() - make_interval(secs => $1), state = $2 where id = $3",
    [options.ageSeconds ?? 0, options.state ?? 'running', jobId],
  );
  return jobId;
}

describe('jobs check: alive and dead', () => {
  it('exits 0 for a running Job of that host with a recent heartbeat', async () => {
    await job('worker-1');
    expect(await check(['--hostname', 'worker-1'])).toEqual({ code: 0, stdout: 'Found one alive job.\n', stderr: '' });
  });

  it('exits 1 when the Job last heartbeat longer ago than DAGPROC_HEALTH_CHECK_THRESHOLD', async () => {
    await job('worker-1', { ageSeconds: 45 });
    expect(await check(['--hostname', 'worker-1'])).toEqual({ code: 1, stdout: '', stderr: 'No alive jobs found.\n' });
    expect((await check(['--hostname', 'worker-1'], { DAGPROC_HEALTH_CHECK_THRESHOLD: '1m' })).code).toBe(0);
  });

  it('exits 1 for a completed Job, however recent its heartbeat', async () => {
    await job('worker-1', { state: 'success' });
    expect((await check(['--hostname', 'worker-1'])).code).toBe(1);
  });

  it('looks only at the given host; --local is this machine, no host flag any host', async () => {
    await job('worker-2');
    expect((await check(['--hostname', 'worker-1'])).code).toBe(1);
    expect((await check(['--local'])).code).toBe(1);
    expect((await check([])).code).toBe(0);
    await job(hostname());
    expect(await check(['--local'])).toMatchObject({ code: 0, stdout: 'Found one alive job.\n' });
  });

  it('--limit N looks at the N most recent alive Jobs; more than one fails unless --allow-multiple', async () => {
    await job('worker-1');
    await job('worker-1');
    await job('worker-1', { ageSeconds: 120 });
    expect(await check(['--hostname', 'worker-1'])).toMatchObject({ code: 0, stdout: 'Found one alive job.\n' }); // --limit defaults to 1
    expect(await check(['--hostname', 'worker-1', '--limit', '5'])).toEqual({ code: 1, stdout: '', stderr: 'Found 2 alive jobs. Expected only one.\n' });
    expect(await check(['--hostname', 'worker-1', '--limit', '5', '--allow-multiple'])).toMatchObject({ code: 0, stdout: 'Found 2 alive jobs.\n' });
    expect(await check(['--hostname', 'worker-1', '--limit', '0'])).toMatchObject({ code: 1, stderr: 'Found 2 alive jobs. Expected only one.\n' });
  });

  it('a probe that cannot reach the API fails with the reason', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const result = await check([], { DAGPROC_API_URL: `http://127.0.0.1:${closed}` });
    expect(result).toEqual({ code: 1, stdout: '', stderr: `Could not ask the API at http://127.0.0.1:${closed}: ECONNREFUSED\n` });
  });

  it('a token the API refuses fails the probe, naming the refusal', async () => {
    const apiToken = await ts.auth.signer.mintApiToken({ subject: 'admin', lifetimeSeconds: 60 });
    const wrong = join(dir, 'api.token');
    await writeTokenFile(wrong, apiToken.token);
    await job('worker-1');
    const result = await check([], { DAGPROC_API_TOKEN_PATH: wrong });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Could not ask the API at .*: .*audience/);
  });
});

describe('jobs check: bad usage exits 2 with one line and the usage', () => {
  it.each([
    [['--job-type', 'SchedulerJob'], '--job-type must be one of DagProcessorJob, the Job types dagproc runs (got "SchedulerJob")'],
    [['--limit=-1'], '--limit must be a whole number, 0 for no limit (got "-1")'],
    [['--limit', 'two'], '--limit must be a whole number, 0 for no limit (got "two")'],
    [['--allow-multiple'], 'To use option --allow-multiple, you must set the limit to a value greater than 1.'],
    [['--hostname', 'a', '--local'], "You can't use --hostname and --local at the same time"],
    [['--hostname', ''], '--hostname must be 1 to 255 characters'],
    [['--host', 'a'], "Unknown option '--host'"],
    [['extra'], "Unexpected argument 'extra'"],
  ])('%j', async (argv, message) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await jobsCheckCommand(argv, { DAGPROC_API_TOKEN_PATH: tokenPath }, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
    expect(code).toBe(2);
    expect(out).toEqual([]);
    const [first, usage, ...rest] = err.join('').split('\n');
    expect(first).toContain(`jobs check: ${message}`);
    expect(usage).toMatch(/^usage: dagproc jobs check /);
    expect(rest).toEqual(['']);
  });

  it('a missing token file is one line naming the path', async () => {
    await expect(check([], { DAGPROC_API_TOKEN_PATH: join(dir, 'missing.token') })).rejects.toThrow(
      `DAGPROC_API_TOKEN_PATH: ${join(dir, 'missing.token')} cannot be read (ENOENT)`,
    );
  });
});
