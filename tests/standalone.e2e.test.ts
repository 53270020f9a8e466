import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../server/src/db/client.ts';
import { rows } from '@dagproc/server/testing/sql';
import { until } from './helpers/poll.ts';

/**
 * `pnpm start` in a temporary copy: a folder holding a copy of the example bundle and nothing
 * else, where the standalone keeps its data directory (.dagproc/). The repository's code and
 * node_modules are used in place, as `pnpm start` runs `tsx server/src/cli/standalone.ts`.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STANDALONE = join(ROOT, 'server/src/cli/standalone.ts');
const SERVER_MAIN = join(ROOT, 'server/src/main.ts');
const DAGPROC_CLI = join(ROOT, 'server/src/cli/dagproc.ts');
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

interface Standalone {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Its own process group (detached), as a shell gives a foreground command: signalling the
 * group with SIGINT is what Ctrl+C in a terminal does.
 */
function startStandalone(cwd: string): Standalone {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, STANDALONE], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: cwd, DAGPROC_PORT: '0', DAGPROC_MIN_FILE_PROCESS_INTERVAL: '5' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const out = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out.stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (out.stderr += chunk));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, out, done };
}

/** Runs `node --import tsx ...args` to its end with only `env` (and PATH). */
function runToEnd(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let work: string;
let dataDir: string;
let first: Standalone | undefined;
let apiUrl: string;
let processorPid: number;
let apiToken: string;

async function api(path: string) {
  const res = await fetch(`${apiUrl}/api/v2${path}`, { headers: { authorization: `Bearer ${apiToken}` } });
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(() => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'dagproc-standalone-')));
  cpSync(join(ROOT, 'dags'), join(work, 'dags'), { recursive: true });
  dataDir = join(work, '.dagproc');
});

afterAll(async () => {
  if (first && first.child.exitCode === null && first.child.signalCode === null) {
    process.kill(-first.child.pid!, 'SIGKILL');
    await first.done;
  }
  if (processorPid && alive(processorPid)) process.kill(processorPid, 'SIGKILL');
  rmSync(work, { recursive: true, force: true });
}, 30_000);

describe('pnpm start', () => {
  it('prints the API URL and where the tokens live, and the example DAGs appear through /api/v2', async () => {
    first = startStandalone(work);
    const { out, child } = first;
    const banner = await until(
      () => (/Press Ctrl\+C to stop/.test(out.stdout) ? out.stdout : child.exitCode !== null ? 'exited' : undefined),
      'the standalone to say it is running',
      60_000,
    );
    expect(banner, out.stderr).not.toBe('exited');
    apiUrl = /API server : (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]!;
    processorPid = Number(/processor {2}: parsing .* \(pid (\d+)\)/.exec(banner)![1]);
    expect(banner).toContain(`parsing ${join(work, 'dags')}`);
    expect(banner).toContain(`tokens     : ${join(dataDir, 'processor.token')} (the processor's), ${join(dataDir, 'api.token')} (for /api/v2)`);
    for (const name of ['processor.token', 'api.token', 'jwt-secret']) expect(statSync(join(dataDir, name)).mode & 0o777, name).toBe(0o600);

    apiToken = readFileSync(join(dataDir, 'api.token'), 'utf8').trim();
    const expected = ['billing_invoices', 'example_etl', 'warehouse_maintenance', 'weekly_kpi_report'];
    const dagIds = await until(async () => {
      const { status, body } = await api('/dags?limit=100');
      const ids = status === 200 ? (body.dags as { dagId: string }[]).map((d) => d.dagId) : [];
      return expected.every((id) => ids.includes(id)) ? ids : undefined;
    }, 'the example DAGs through the API', 60_000);
    expect(dagIds).not.toContain('scratch_sandbox'); // dags/.dagprocignore
    expect(dagIds.some((id) => id.startsWith('warehouse_sync_'))).toBe(true);
    expect((await api('/importErrors')).body.totalEntries).toBe(0);
  });

  it('the processor token is the processor\'s alone: the API refuses it', async () => {
    const processorToken = readFileSync(join(dataDir, 'processor.token'), 'utf8').trim();
    const res = await fetch(`${apiUrl}/api/v2/dags`, { headers: { authorization: `Bearer ${processorToken}` } });
    expect(res.status).toBe(401);
  });

  it('a second start on the same data directory says the first is running, exits 1, and touches nothing', async () => {
    const before = Object.fromEntries(
      ['processor.token', 'api.token', 'jwt-secret', 'dagproc.lock'].map((name) => [name, readFileSync(join(dataDir, name), 'utf8')]),
    );
    const listing = readdirSync(dataDir).sort();
    const second = startStandalone(work);
    const result = await second.done;
    expect(result.code, second.out.stderr).toBe(1);
    expect(second.out.stderr).toBe(
      `dagproc: another dagproc is already running on ${dataDir} (pid ${first!.child.pid}); stop it first, or set DAGPROC_DATA_DIR to another directory (if no such process is dagproc, delete ${join(dataDir, 'dagproc.lock')})\n`,
    );
    expect(second.out.stdout).toBe('');
    // The server alone and `db migrate` on the same PGlite data directory are refused alike.
    for (const args of [[SERVER_MAIN], [DAGPROC_CLI, 'db', 'migrate']]) {
      const other = await runToEnd(args, { DAGPROC_DATA_DIR: dataDir, DAGPROC_JWT_SECRET: 'x'.repeat(48), DAGPROC_PORT: '0' });
      expect(other.code, other.stderr).toBe(1);
      expect(other.stderr).toMatch(new RegExp(`^dagproc(?: server)?: another dagproc is already running on ${dataDir} \\(pid ${first!.child.pid}\\);.*\n$`));
    }
    for (const [name, content] of Object.entries(before)) expect(readFileSync(join(dataDir, name), 'utf8'), name).toBe(content);
    expect(readdirSync(dataDir).sort()).toEqual(listing);
    // The first runs on, undisturbed.
    expect((await api('/dags')).status).toBe(200);
  });

  it('Ctrl+C stops both processes with exit 0, the processor\'s Job completed, the lock released', async () => {
    const { body } = await api('/jobs?jobType=DagProcessorJob');
    const running = (body.jobs as { id: number; state: string; pid: number }[]).filter((j) => j.state === 'running');
    expect(running).toEqual([expect.objectContaining({ pid: processorPid })]);

    // A terminal's Ctrl+C signals the whole foreground process group.
    process.kill(-first!.child.pid!, 'SIGINT');
    const result = await first!.done;
    expect(result, first!.out.stderr).toEqual({ code: 0, signal: null });
    await until(() => !alive(processorPid), 'the processor to be gone', 10_000);
    const stopped = first!.out.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { component: string; msg: string; jobId?: number });
    expect(stopped).toContainEqual(expect.objectContaining({ component: 'processor', msg: 'processor stopped', jobId: running[0]!.id }));
    expect(existsSync(join(dataDir, 'dagproc.lock'))).toBe(false);

    // The data directory is whole and free again: it opens, and holds the completed Job.
    const database = await openDatabase({ dataDir: join(dataDir, 'pglite') });
    try {
      const jobs = await rows(database.db, 'select id, state, end_date is not null as ended from job');
      expect(jobs).toEqual([{ id: running[0]!.id, state: 'success', ended: true }]);
    } finally {
      await database.close();
    }
  });

  it('killed outright, it leaves its processor to stop by itself and a stale lock the next start takes over', async () => {
    const killed = startStandalone(work);
    const banner = await until(() => (/Press Ctrl\+C to stop/.test(killed.out.stdout) ? killed.out.stdout : undefined), 'the second run to start', 60_000);
    const orphan = Number(/\(pid (\d+)\)/.exec(banner)![1]);
    process.kill(killed.child.pid!, 'SIGKILL'); // the standalone alone, not its processor
    await killed.done;
    expect(readFileSync(join(dataDir, 'dagproc.lock'), 'utf8')).toBe(`${killed.child.pid}\n`);
    await until(() => !alive(orphan), 'the orphaned processor to stop', 30_000);

    first = startStandalone(work);
    await until(() => /Press Ctrl\+C to stop/.test(first!.out.stdout) || first!.child.exitCode !== null, 'the third run to start', 60_000);
    const warning = first.out.stderr.split('\n').find((l) => l.includes('took over the lock'));
    expect(warning && JSON.parse(warning), first.out.stderr).toMatchObject({ level: 'warn', pid: killed.child.pid });
    processorPid = Number(/\(pid (\d+)\)/.exec(first.out.stdout)![1]);
    process.kill(-first.child.pid!, 'SIGINT');
    expect(await first.done, first.out.stderr).toEqual({ code: 0, signal: null });
  });
});
