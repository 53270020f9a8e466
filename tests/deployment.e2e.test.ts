import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './helpers/poll.ts';

/**
 * compose.yaml's quick start, run as plain processes on a fresh Postgres database: what init,
 * the token refresher, the API server and the DAG processor each run, with the environment
 * compose gives each of them and nothing more. tests/compose.test.ts checks the wiring itself.
 *
 * Needs PostgreSQL: TEST_DATABASE_URL, or else the local server at 127.0.0.1:5432 (user
 * postgres, trust auth) that the project's machines always have. A database is created for
 * this file and dropped afterwards. Without TEST_DATABASE_URL and with nothing listening on
 * 127.0.0.1:5432 (a newcomer's laptop) the file is skipped, saying why; with
 * TEST_DATABASE_URL set, a database that cannot be reached fails it.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DAGPROC_CLI = 'server/src/cli/dagproc.ts';
const SERVER_MAIN = 'server/src/main.ts';
const PROCESSOR_MAIN = 'processor/src/main.ts';
const ADMIN_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const SECRET = randomBytes(48).toString('base64url');
const NO_POSTGRES = process.env.TEST_DATABASE_URL ? false : !(await listening('127.0.0.1', 5432));
if (NO_POSTGRES) console.warn('tests/deployment.e2e.test.ts skipped: no PostgreSQL on 127.0.0.1:5432 and TEST_DATABASE_URL unset');

function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2_000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

/**
 * The processor must need nothing but read access to its token. Root ignores file modes, so
 * when the suite runs as root the processor's side runs as `nobody` to make that a real check
 * (unless the checkout itself is out of nobody's reach, as under a 0700 /root).
 */
const PROCESSOR_USER = process.getuid?.() === 0 && othersCanReach(ROOT) && othersCanReach(tmpdir()) ? { uid: 65_534, gid: 65_534 } : {};

function othersCanReach(path: string): boolean {
  const real = realpathSync(path);
  const dirs = real.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/') || '/');
  return dirs.every((dir) => (statSync(dir).mode & 0o005) === 0o005);
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Only what a container's image gives every process, plus the service's own settings. */
function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() };
}

/** Starts `node --import tsx <script>` from the repository root, as `pnpm <script>` would. */
function start(script: string, args: string[], env: Record<string, string>, user: { uid?: number; gid?: number } = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...baseEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...user,
  });
  const out = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out.stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (out.stderr += chunk));
  const done = new Promise<Run>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, ...out }));
  });
  return { child, out, done };
}

/** Runs a command to its end, killing it past `timeoutMs`. */
async function run(script: string, args: string[], env: Record<string, string>, user: { uid?: number; gid?: number } = {}, timeoutMs = 20_000) {
  const { child, done } = start(script, args, env, user);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const result = await done;
    if (result.signal === 'SIGKILL') throw new Error(`${script} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${result.stderr}`);
    return result;
  } finally {
    clearTimeout(timer);
  }
}

const describeRun = (r: Run) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

async function stop(child: ChildProcess, done: Promise<Run>): Promise<Run> {
  if (!exited(child)) child.kill('SIGTERM');
  return done;
}

function jwtPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

// --- the database, the volumes, and the services' environments ------------------------------

let admin: ReturnType<typeof postgres>;
let sql: ReturnType<typeof postgres>;
let databaseName: string | undefined;
let databaseUrl: string;
let work: string;
let tokenDir: string;
let tokenPath: string;
let dagsFolder: string;
let server: ReturnType<typeof start> | undefined;
let apiUrl: string;

beforeAll(async () => {
  if (NO_POSTGRES) return;
  admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  const name = `dagproc_deploy_${randomBytes(6).toString('hex')}`;
  try {
    await admin.unsafe(`create database ${name}`);
    databaseName = name;
  } catch (error) {
    const where = new URL(ADMIN_URL);
    where.password = '';
    throw new Error(
      `the deployment test needs PostgreSQL at ${where.host} (set TEST_DATABASE_URL, or start the local server on 127.0.0.1:5432 with user postgres): ${(error as Error).message}`,
    );
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  databaseUrl = url.toString();
  sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });

  // Readable (not writable) by the processor's user, as the :ro mounts are in compose.
  work = realpathSync(mkdtempSync(join(tmpdir(), 'dagproc-deploy-')));
  chmodSync(work, 0o755);
  tokenDir = join(work, 'run', 'dagproc');
  tokenPath = join(tokenDir, 'processor.token');
  dagsFolder = join(work, 'dags');
  cpSync(join(ROOT, 'dags'), dagsFolder, { recursive: true });
}, 30_000);

afterAll(async () => {
  if (server) await stop(server.child, server.done);
  await sql?.end();
  if (databaseName) await admin.unsafe(`drop database if exists ${databaseName} with (force)`);
  await admin?.end();
  if (work) {
    // A non-root owner needs write access back to delete what the test made read-only.
    for (const dir of [join(work, 'run'), tokenDir]) if (statSync(dir, { throwIfNoEntry: false })) chmodSync(dir, 0o700);
    rmSync(work, { recursive: true, force: true });
  }
}, 30_000);

const initEnv = () => ({ DAGPROC_DATABASE_URL: databaseUrl, DAGPROC_JWT_SECRET: SECRET });
const processorEnv = () => ({ DAGPROC_API_URL: apiUrl, DAGPROC_API_TOKEN_PATH: tokenPath, DAGPROC_DAGS_FOLDER: dagsFolder });
/** The dag-processor's health check, as compose.yaml runs it, with the processor's environment. */
const jobsCheck = () =>
  run(DAGPROC_CLI, ['jobs', 'check', '--job-type', 'DagProcessorJob', '--local'], { DAGPROC_API_URL: apiUrl, DAGPROC_API_TOKEN_PATH: tokenPath }, PROCESSOR_USER);

describe.skipIf(NO_POSTGRES)('the compose quick start, as processes', () => {
  it('init: `db migrate` creates the metadata tables, and a second run (the next `up`) changes nothing', async () => {
    const first = await run(DAGPROC_CLI, ['db', 'migrate'], initEnv());
    expect(first.code, describeRun(first)).toBe(0);
    expect(first.stdout).toMatch(/applied \d+ migration\(s\) to PostgreSQL at 127\.0\.0\.1/);
    const tables = await sql<{ table_name: string }[]>`select table_name from information_schema.tables where table_schema = 'public'`;
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['dag', 'dag_version', 'serialized_dag', 'import_error', 'job']));

    const again = await run(DAGPROC_CLI, ['db', 'migrate'], initEnv());
    expect(again.code, describeRun(again)).toBe(0);
    expect(again.stdout).toMatch(/up to date/);
  });

  it('init: `provision-token --out` writes a processor token, mode 0600, into the shared volume', async () => {
    const minted = await run(DAGPROC_CLI, ['provision-token', '--out', tokenPath], { DAGPROC_JWT_SECRET: SECRET });
    expect(minted.code, describeRun(minted)).toBe(0);
    expect(statSync(tokenPath).mode & 0o777).toBe(0o600);
    const claims = jwtPayload(readFileSync(tokenPath, 'utf8').trim());
    expect(claims).toMatchObject({ sub: 'dag-processor', scope: 'dag-processor', aud: expect.arrayContaining(['dagproc:dag-processing']) });
    expect(minted.stdout + minted.stderr).not.toContain(SECRET);
  });

  it('token-refresher: `provision-token --watch` re-mints before expiry and stops cleanly on SIGTERM', async () => {
    const minterToken = join(work, 'minter', 'processor.token');
    const minter = start(DAGPROC_CLI, ['provision-token', '--out', minterToken, '--lifetime', '2s', '--watch'], { DAGPROC_JWT_SECRET: SECRET });
    const readJti = () => {
      try {
        return jwtPayload(readFileSync(minterToken, 'utf8').trim()).jti as string;
      } catch {
        return undefined; // not written yet
      }
    };
    const reminted = (async () => {
      const first = await until(() => readJti() ?? (exited(minter.child) ? 'exited' : undefined), 'the first token from the minter', 15_000);
      if (first === 'exited') throw new Error(`the minter exited: ${minter.out.stderr}`);
      await until(() => [undefined, first].includes(readJti()) === false, 'a re-minted token', 10_000);
    })();
    await reminted.finally(() => stop(minter.child, minter.done));
    expect(statSync(minterToken).mode & 0o777).toBe(0o600);
    const stopped = await minter.done;
    expect(stopped.code, describeRun(stopped)).toBe(0);
  });

  it('dag-processor: with no token file it exits 2 with one line naming the path, before any work (compose restarts it)', async () => {
    const missing = join(work, 'no-volume', 'processor.token');
    const result = await run(PROCESSOR_MAIN, [], { DAGPROC_API_URL: 'http://127.0.0.1:1', DAGPROC_API_TOKEN_PATH: missing, DAGPROC_DAGS_FOLDER: dagsFolder }, PROCESSOR_USER);
    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toBe(`dagproc processor: DAGPROC_API_TOKEN_PATH: ${missing} cannot be read (ENOENT)\n`);
    expect(result.stdout).toBe('');
  });

  it('api-server: `start:server` on Postgres becomes healthy', async () => {
    server = start(SERVER_MAIN, [], { ...initEnv(), DAGPROC_HOST: '127.0.0.1', DAGPROC_PORT: '0' });
    const { child, out } = server;
    // DAGPROC_PORT=0: the port the server picked is in its "server listening" line.
    const listening = await until(
      () => /"msg":"server listening".*?"url":"([^"]+)"/.exec(out.stderr)?.[1] ?? (exited(child) ? { exited: true } : undefined),
      'the server to listen',
      20_000,
    );
    if (typeof listening !== 'string') throw new Error(`the server exited: ${out.stderr}`);
    apiUrl = listening;
    await until(async () => (await fetch(`${apiUrl}/dag-processing/health`)).status === 200, 'a healthy server', 10_000);
  });

  it('dag-processor: with only the API URL, a read-only token and its DAGs, `--num-runs 1` parses the example bundle and exits 0', async () => {
    // The processor's view of the token volume: read-only, in a directory it cannot write.
    chmodSync(tokenPath, 0o444);
    chmodSync(tokenDir, 0o555);
    chmodSync(join(work, 'run'), 0o755);

    const result = await run(PROCESSOR_MAIN, ['--num-runs', '1'], processorEnv(), PROCESSOR_USER, 30_000);
    expect(result.code, describeRun(result)).toBe(0);
    expect(result.stderr).not.toContain(SECRET);

    const dags = await sql<{ dag_id: string; bundle_name: string; relative_fileloc: string; is_stale: boolean }[]>`
      select dag_id, bundle_name, relative_fileloc, is_stale from dag order by dag_id`;
    expect(dags.map((d) => d.dag_id)).toContain('example_etl');
    expect(dags.map((d) => d.dag_id)).not.toContain('scratch_sandbox'); // dags/.dagprocignore
    for (const dag of dags) expect(dag, dag.dag_id).toMatchObject({ bundle_name: 'dags-folder', is_stale: false });
    const serialized = await sql<{ count: number }[]>`select count(distinct dag_id)::int as count from serialized_dag`;
    expect(serialized[0]!.count).toBe(dags.length);
    expect([...(await sql`select filename, stacktrace from import_error`)]).toEqual([]);
    const jobs = [...(await sql<{ job_type: string; state: string; unixname: string }[]>`select job_type, state, unixname from job`)];
    expect(jobs).toEqual([{ job_type: 'DagProcessorJob', state: 'success', unixname: expect.any(String) }]);
    if (PROCESSOR_USER.uid !== undefined) expect(jobs[0]!.unixname, 'the processor ran as nobody').toBe('nobody');
  });

  it("dag-processor's health check: `jobs check` fails once the processor's Job is done", async () => {
    const check = await jobsCheck();
    expect(check.code, describeRun(check)).toBe(1);
    expect(check.stderr).toBe('No alive jobs found.\n');
  });

  it("dag-processor's health check: passes while a long-running processor heartbeats, and fails after it stops", async () => {
    const processor = start(PROCESSOR_MAIN, [], processorEnv(), PROCESSOR_USER);
    const outcome = await until(async () => {
      if (exited(processor.child)) return 'exited';
      const check = await jobsCheck();
      return check.code === 0 && /Found one alive job/.test(check.stdout) ? 'alive' : undefined;
    }, '`jobs check` to pass', 20_000).finally(() => stop(processor.child, processor.done));
    const stopped = await processor.done;
    expect(outcome, `the processor exited: ${describeRun(stopped)}`).toBe('alive');
    expect(stopped.code, describeRun(stopped)).toBe(0);
    const after = await jobsCheck();
    expect(after.code, describeRun(after)).toBe(1);
  });

  it('api-server: stops cleanly on SIGTERM (`docker compose down`)', async () => {
    const result = await stop(server!.child, server!.done);
    server = undefined;
    expect(result.code, describeRun(result)).toBe(0);
  });
});
