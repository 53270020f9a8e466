import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '@dagproc/server/testing/server';
import { rows } from '@dagproc/server/testing/sql';
import { startGitHttpServer, tempDir, TestRepo, type GitHttpServer } from '../processor/src/testing/git.ts';
import { dagFile } from './helpers/bundle.ts';
import { until } from './helpers/poll.ts';
import { startProcessor, writeToken, type ProcessorHandle } from './helpers/processor.ts';

/**
 * A git bundle end to end: the real server, a Connection holding the repository's password
 * (created through the public API), a loopback git smart-HTTP server checking it, and the real
 * processor process cloning, parsing at a commit, and moving to the next commit on refresh,
 * while two broken git bundles are reported failed and do not stop it.
 */
const PASSWORD = 'e2e-Git-Password-7c1d';

let ts: TestServer;
let dir: string;
let storage: string;
let repo: TestRepo;
let http: GitHttpServer;
let processor: ProcessorHandle;
let apiToken: string;
let shaA: string;

const db = () => ts.testDb.database.db;

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${ts.url}/api/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${apiToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** A DAG file that reports, in its tags, whether it could read the bundle's bare repository beside its checkout. */
function probeFile(target: string): string {
  return `import { readFileSync } from 'node:fs';
import { dag } from '@dagproc/sdk';
let outside = 'read';
try { readFileSync(${JSON.stringify(target)}, 'utf8'); } catch (error) { outside = String(error.code ?? 'error'); }
export default dag({ dagId: 'probe', schedule: null, startDate: '2026-01-01', tags: [outside] });
`;
}

beforeAll(async () => {
  ts = await startTestServer();
  apiToken = (await ts.auth.signer.mintApiToken({ subject: 'admin', lifetimeSeconds: 3600 })).token;
  dir = await tempDir('dagproc-git-e2e-');
  storage = join(dir, 'storage');
  repo = await TestRepo.create(dir);
  http = await startGitHttpServer({ root: dir, username: 'alice', password: PASSWORD });
  shaA = await repo.commit({
    'etl.ts': dagFile('git_etl', "tags: ['v1'],"),
    'probe.ts': probeFile(join(storage, 'repo', 'repo.git', 'HEAD')),
  });

  const created = await api('PUT', '/connections/git_http', { connType: 'git', login: 'alice', password: PASSWORD });
  expect(created.status).toBe(201);

  const url = `${http.url}/dags.git`;
  processor = startProcessor({
    apiUrl: ts.url,
    tokenPath: writeToken(await ts.processorToken()),
    bundles: [],
    env: {
      DAGPROC_BUNDLE_STORAGE_PATH: storage,
      DAGPROC_LOG_LEVEL: 'debug',
      DAGPROC_BUNDLES: JSON.stringify([
        { name: 'repo', kind: 'git', url, branch: 'main', connId: 'git_http', refreshInterval: 1 },
        { name: 'bad-ref', kind: 'git', url, branch: 'no-such-branch', connId: 'git_http', refreshInterval: 1 },
        { name: 'unreachable', kind: 'git', url: 'http://127.0.0.1:1/nothing.git', refreshInterval: 1 },
      ]),
    },
  });
}, 60_000);

afterAll(async () => {
  await processor?.stop();
  await http?.close();
  await ts?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a git bundle with credentials from a Connection', () => {
  it('parses the DAGs at commit A and records A as the bundle version', async () => {
    const [dag] = await until(
      async () => {
        const found = await rows(db(), "select bundle_name, relative_fileloc, bundle_version from dag where dag_id = 'git_etl'");
        return found.length ? found : null;
      },
      'git_etl parsed from the repository',
    );
    expect(dag).toEqual({ bundle_name: 'repo', relative_fileloc: 'etl.ts', bundle_version: shaA });
    expect(await rows(db(), "select version_number, bundle_version from dag_version where dag_id = 'git_etl'")).toEqual([
      { version_number: 1, bundle_version: shaA },
    ]);
    const [bundle] = await rows(db(), "select kind, version, last_error from dag_bundle where name = 'repo'");
    expect(bundle).toEqual({ kind: 'git', version: shaA, last_error: null });
  });

  it('read the Connection through the Execution API with its own token, and never logged the password', async () => {
    const reads = await rows(db(), "select owner, extra from audit_log where event = 'connection.get'");
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((r) => r.owner === 'dag-processor' && r.extra.connId === 'git_http')).toBe(true);
    expect(http.authorizations).toContain(`Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`);
    expect(JSON.stringify(processor.logs) + processor.stderr.join('\n')).not.toContain(PASSWORD);
  });

  it("lets a DAG file read its checkout but not the bundle's repository beside it", async () => {
    const probe = await until(async () => (await rows(db(), "select tags from dag where dag_id = 'probe'"))[0], 'the probe parsed');
    expect(probe.tags).toEqual(['ERR_ACCESS_DENIED']);
  });

  it('picks up a new commit on the next refresh as a new bundle version, and removes the old checkout', async () => {
    const shaB = await repo.commit({ 'etl.ts': dagFile('git_etl', "tags: ['v2'],") }, 'tag v2');
    const versions = await until(
      async () => {
        const found = await rows(db(), "select version_number, bundle_version from dag_version where dag_id = 'git_etl' order by version_number");
        return found.length === 2 ? found : null;
      },
      'a second DAG version from commit B',
    );
    expect(versions).toEqual([
      { version_number: 1, bundle_version: shaA },
      { version_number: 2, bundle_version: shaB },
    ]);
    await until(async () => (await rows(db(), "select version from dag_bundle where name = 'repo'"))[0]?.version === shaB, 'bundle version B');
    const [dag] = await rows(db(), "select tags, bundle_version from dag where dag_id = 'git_etl'");
    expect(dag).toEqual({ tags: ['v2'], bundle_version: shaB });
    await until(async () => (await readdir(join(storage, 'repo', 'versions'))).join() === shaB, 'only the checkout of B left');
  });

  it('reports a missing branch and an unreachable repository as failed bundles with their reasons, while the good one works', async () => {
    const failed = await until(
      async () => {
        const found = await rows(db(), "select name, last_error, last_error_at, version from dag_bundle where last_error is not null order by name");
        return found.length === 2 ? found : null;
      },
      'both broken bundles reported',
    );
    expect(failed.map((b) => b.name)).toEqual(['bad-ref', 'unreachable']);
    expect(failed[0]!.last_error).toContain("couldn't find remote ref refs/heads/no-such-branch");
    expect(failed[1]!.last_error).toMatch(/unable to access 'http:\/\/127\.0\.0\.1:1\/nothing\.git\/'/);
    expect(failed.every((b) => b.version === null && b.last_error_at !== null)).toBe(true);

    const listed = await api('GET', '/bundles');
    const byName = Object.fromEntries(listed.body.bundles.map((b: any) => [b.name, b]));
    expect(byName['bad-ref'].lastError).toContain('no-such-branch');
    expect(byName.repo).toMatchObject({ lastError: null, kind: 'git' });
    expect(processor.child.exitCode).toBeNull();
    expect(JSON.stringify(processor.logs)).not.toContain(PASSWORD);
  });

  it('retries a failed bundle at its next refresh: a branch pushed later is picked up', async () => {
    const sha = await repo.commit({ 'late.ts': dagFile('late_dag'), 'etl.ts': null, 'probe.ts': null }, 'late branch', 'no-such-branch');
    await until(
      async () => (await rows(db(), "select version, last_error from dag_bundle where name = 'bad-ref'"))[0]?.version === sha,
      'bad-ref recovered',
    );
    const [row] = await rows(db(), "select last_error from dag_bundle where name = 'bad-ref'");
    expect(row!.last_error).toBeNull();
    await until(async () => (await rows(db(), "select bundle_name from dag where dag_id = 'late_dag'"))[0]?.bundle_name === 'bad-ref', 'late_dag parsed');
  });
});
