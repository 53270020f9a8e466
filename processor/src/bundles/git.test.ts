import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@dagproc/shared/log';
import type { ConnectionResponse } from '@dagproc/shared/schemas/execution';
import { ApiUnavailable } from '../api/errors.ts';
import type { GitBundleConfig } from '../config.ts';
import { startGitHttpServer, tempDir, TestRepo, type GitHttpServer } from '../testing/git.ts';
import { gitEnvironment, mask } from './git-command.ts';
import { sshCommand, transportOf } from './git-credentials.ts';
import { GitBundleError, GitDagBundle, type GitBundleOptions } from './git.ts';

const DAG = (id: string) => `import { dag } from '@dagproc/sdk';\nexport default dag({ dagId: '${id}', schedule: null, startDate: '2026-01-01' });\n`;

let dir: string;
let storage: string;
let repo: TestRepo;
let logs: Record<string, unknown>[];
let connections: Map<string, ConnectionResponse>;
let connectionReads: string[];

beforeEach(async () => {
  dir = await tempDir('dagproc-git-test-');
  storage = join(dir, 'storage');
  repo = await TestRepo.create(dir);
  logs = [];
  connections = new Map();
  connectionReads = [];
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function config(overrides: Partial<GitBundleConfig> = {}): GitBundleConfig {
  return {
    kind: 'git',
    name: 'repo',
    url: repo.fileUrl,
    branch: 'main',
    tag: null,
    commit: null,
    subdir: null,
    connId: null,
    refreshInterval: 1,
    ...overrides,
  };
}

function bundle(overrides: Partial<GitBundleConfig> = {}, options: Partial<GitBundleOptions> = {}): GitDagBundle {
  return new GitDagBundle({
    config: config(overrides),
    storagePath: storage,
    readConnection: async (connId) => {
      connectionReads.push(connId);
      return connections.get(connId) ?? null;
    },
    logger: createLogger('processor', { level: 'debug', write: (line) => logs.push(JSON.parse(line)) }),
    timeoutMs: 30_000,
    ...options,
  });
}

function connection(fields: Partial<ConnectionResponse>): ConnectionResponse {
  return { connId: 'git', connType: 'git', host: null, port: null, login: null, password: null, schema: null, extra: null, ...fields };
}

async function failure(promise: Promise<unknown>): Promise<GitBundleError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GitBundleError);
  return error as GitBundleError;
}

const names = async (b: GitDagBundle) => (await b.listFiles()).map((f) => f.relativeFileloc);
const versions = () => readdir(join(storage, 'repo', 'versions'));

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a git bundle over file://', () => {
  it('checks out the head of its branch, and its version is the commit', async () => {
    const a = await repo.commit({ 'etl.ts': DAG('etl'), 'lib/util.ts': DAG('util'), 'README.md': 'x' });
    const b = bundle();
    expect(await b.refresh()).toEqual({ version: a, changed: true });
    expect(b.root).toBe(join(storage, 'repo', 'versions', a));
    expect(await names(b)).toEqual(['etl.ts', 'lib/util.ts']);
    expect(await b.refresh()).toEqual({ version: a, changed: false });
    const held = b.checkout();
    expect([held.root, held.version]).toEqual([b.root, a]);
    held.release();
  });

  it('moves to a new commit on the branch, re-lists from the new checkout, and removes the old one once no parse holds it', async () => {
    const a = await repo.commit({ 'one.ts': DAG('one') });
    const b = bundle();
    await b.refresh();
    const heldA = b.checkout();
    const bSha = await repo.commit({ 'one.ts': null, 'two.ts': DAG('two') });
    expect(await b.refresh()).toEqual({ version: bSha, changed: true });
    expect(b.root).toBe(join(storage, 'repo', 'versions', bSha));
    expect(await names(b)).toEqual(['two.ts']);
    // A parse that started on A still reads A.
    expect(await readFile(join(heldA.root, 'one.ts'), 'utf8')).toBe(DAG('one'));
    expect((await versions()).sort()).toEqual([a, bSha].sort());
    heldA.release();
    heldA.release();
    await until(async () => (await versions()).length === 1, 'the old checkout to go');
    expect(await versions()).toEqual([bSha]);
  });

  it('keeps a tag or a commit pinned while the branch moves, without fetching again', async () => {
    const a = await repo.commit({ 'one.ts': DAG('one') });
    await repo.tag('v1', a);
    const later = await repo.commit({ 'two.ts': DAG('two') });
    const byTag = bundle({ name: 'by-tag', branch: null, tag: 'v1' });
    const byCommit = bundle({ name: 'by-commit', branch: null, commit: a });
    expect((await byTag.refresh()).version).toBe(a);
    expect((await byCommit.refresh()).version).toBe(a);
    await repo.commit({ 'three.ts': DAG('three') });
    // The repository going away proves no fetch happens for a pin.
    await rename(repo.bare, `${repo.bare}.gone`);
    expect(await byTag.refresh()).toEqual({ version: a, changed: false });
    expect(await byCommit.refresh()).toEqual({ version: a, changed: false });
    expect(await names(byTag)).toEqual(['one.ts']);
    expect(later).not.toBe(a);
  });

  it('pins a commit that is no branch head', async () => {
    const a = await repo.commit({ 'one.ts': DAG('one') });
    await repo.commit({ 'two.ts': DAG('two') });
    const b = bundle({ branch: null, commit: a });
    expect((await b.refresh()).version).toBe(a);
    expect(await names(b)).toEqual(['one.ts']);
  });

  it("tracks the remote's default branch when no ref is given", async () => {
    const a = await repo.commit({ 'one.ts': DAG('one') });
    const b = bundle({ branch: null });
    expect((await b.refresh()).version).toBe(a);
  });

  it('serves a subdir as the root, and fails when the subdir is not at the commit', async () => {
    const a = await repo.commit({ 'dags/one.ts': DAG('one'), 'other.ts': DAG('other') });
    const b = bundle({ subdir: 'dags' });
    await b.refresh();
    expect(b.root).toBe(join(storage, 'repo', 'versions', a, 'dags'));
    expect(await names(b)).toEqual(['one.ts']);
    const missing = bundle({ name: 'missing', subdir: 'nope' });
    expect((await failure(missing.refresh())).reason).toBe(`subdir "nope" is not a folder at commit ${a}`);
  });

  it('fails with git\'s reason for a branch that does not exist, and for a URL that does not clone', async () => {
    await repo.commit({ 'one.ts': DAG('one') });
    const noBranch = await failure(bundle({ branch: 'nope' }).refresh());
    expect(noBranch.reason).toContain('fetching branch "nope"');
    expect(noBranch.reason).toContain("couldn't find remote ref refs/heads/nope");
    expect(noBranch.message).toMatch(/^bundle "repo": /);
    const noRepo = await failure(bundle({ name: 'elsewhere', url: `file://${dir}/nothing-here.git` }).refresh());
    expect(noRepo.reason).toContain('does not appear to be a git repository');
    const noCommit = await failure(bundle({ name: 'c', branch: null, commit: 'f'.repeat(40) }).refresh());
    expect(noCommit.reason).toContain(`commit ${'f'.repeat(40)} not found`);
  });

  it('keeps its last good checkout when a fetch fails, and moves on once the repository is back', async () => {
    const a = await repo.commit({ 'one.ts': DAG('one') });
    const b = bundle();
    await b.refresh();
    await rename(repo.bare, `${repo.bare}.away`);
    await failure(b.refresh());
    expect(b.root).toBe(join(storage, 'repo', 'versions', a));
    expect(await names(b)).toEqual(['one.ts']);
    expect(b.checkout().version).toBe(a);
    await rename(`${repo.bare}.away`, repo.bare);
    const next = await repo.commit({ 'two.ts': DAG('two') });
    expect((await b.refresh()).version).toBe(next);
  });

  it('reuses its repository and checkout after a restart, and clears what a crash left half-done', async () => {
    const a = await repo.commit({ 'one.ts': DAG('one') });
    await bundle().refresh();
    await writeFile(join(storage, 'repo', 'tmp', 'half-done'), 'x');
    await rename(repo.bare, `${repo.bare}.away`);
    // A pin already fetched needs no repository at all.
    const again = bundle({ branch: null, commit: a });
    expect((await again.refresh()).version).toBe(a);
    expect(await readdir(join(storage, 'repo', 'tmp'))).toEqual([]);
    expect((await stat(join(storage, 'repo'))).mode & 0o777).toBe(0o700);
  });

  it('refuses a storage path that others may write to', async () => {
    await repo.commit({ 'one.ts': DAG('one') });
    await mkdir(storage, { mode: 0o777 });
    await chmod(storage, 0o777);
    const error = await failure(bundle().refresh());
    expect(error.reason).toBe(`DAGPROC_BUNDLE_STORAGE_PATH ${storage} must be a folder only this user may write to (it is owned by uid ${process.getuid!()}, mode 777)`);
    await chmod(storage, 0o755);
    expect((await bundle().refresh()).version).toMatch(/^[0-9a-f]{40}$/);
  });

  it('refuses a git bundle whose Connection does not exist, naming it', async () => {
    await repo.commit({ 'one.ts': DAG('one') });
    const error = await failure(bundle({ connId: 'missing_conn' }).refresh());
    expect(error.reason).toBe('connection "missing_conn" not found');
  });

  it('lets an API outage while reading the Connection through unchanged, so the processor pauses', async () => {
    await repo.commit({ 'one.ts': DAG('one') });
    const b = bundle({ connId: 'git' }, { readConnection: async () => { throw new ApiUnavailable('down'); } });
    await expect(b.refresh()).rejects.toBeInstanceOf(ApiUnavailable);
  });
});

describe('a git bundle over HTTP with credentials from a Connection', () => {
  const PASSWORD = 'pa55-Secret-token-9f8e7d';
  let server: GitHttpServer;
  let url: string;

  beforeEach(async () => {
    server = await startGitHttpServer({ root: dir, username: 'alice', password: PASSWORD });
    url = `${server.url}/dags.git`;
  });
  afterEach(() => server.close());

  it('fetches with the password from the Connection, which stays out of the repository, the storage and the logs', async () => {
    const a = await repo.commit({ 'one.ts': DAG('one') });
    connections.set('git_https', connection({ connId: 'git_https', login: 'alice', password: PASSWORD }));
    const b = bundle({ url, connId: 'git_https' });
    expect((await b.refresh()).version).toBe(a);
    expect(await names(b)).toEqual(['one.ts']);
    expect(server.authorizations).toContain(`Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`);
    expect(await filesContaining(storage, PASSWORD)).toEqual([]);
    expect(JSON.stringify(logs)).not.toContain(PASSWORD);
    // Read again for the next fetch, so a rotated secret is used.
    const next = await repo.commit({ 'two.ts': DAG('two') });
    expect((await b.refresh()).version).toBe(next);
    expect(connectionReads).toEqual(['git_https', 'git_https']);
  });

  it('reports a wrong password as an authentication failure that never shows the secret, and recovers once the Connection is fixed', async () => {
    const a = await repo.commit({ 'one.ts': DAG('one') });
    const wrong = 'wrong-Secret-0a1b2c3d';
    connections.set('git_https', connection({ connId: 'git_https', login: 'alice', password: wrong }));
    const b = bundle({ url, connId: 'git_https' });
    const error = await failure(b.refresh());
    expect(error.reason).toMatch(/Authentication failed/);
    expect(`${error.message} ${error.stack} ${JSON.stringify(logs)}`).not.toContain(wrong);
    expect(await filesContaining(storage, wrong)).toEqual([]);
    connections.set('git_https', connection({ connId: 'git_https', login: 'alice', password: PASSWORD }));
    expect((await b.refresh()).version).toBe(a);
  });

  it('fails without prompting when the repository wants credentials and no Connection is named', async () => {
    await repo.commit({ 'one.ts': DAG('one') });
    const error = await failure(bundle({ url }).refresh());
    expect(error.reason).toMatch(/could not read Username|terminal prompts disabled|Authentication failed/);
  });
});

describe('a git bundle over ssh', () => {
  const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAfakekeymaterialfortests\n-----END OPENSSH PRIVATE KEY-----';

  /**
   * A stand-in for ssh (no sshd here): it records its arguments, its environment and the key
   * file it was given, then runs the remote command (git-upload-pack) locally, as sshd would.
   */
  async function fakeSsh(): Promise<{ program: string; record: string }> {
    const record = join(dir, 'ssh-record');
    const program = join(dir, 'fake-ssh');
    await writeFile(
      program,
      `#!/bin/sh
printf '%s\\n' "$@" > '${record}.args'
env > '${record}.env'
key=""; prev=""; last=""
for a in "$@"; do
  if [ "$prev" = "-i" ]; then key="$a"; fi
  prev="$a"; last="$a"
done
if [ -n "$key" ]; then stat -c %a "$key" > '${record}.keymode'; cat "$key" > '${record}.key'; echo "$key" > '${record}.keypath'; fi
exec sh -c "$last"
`,
    );
    await chmod(program, 0o755);
    return { program, record };
  }

  it('uses the private key from the Connection through GIT_SSH_COMMAND, in a 0600 file removed afterwards, with a scrubbed environment', async () => {
    const a = await repo.commit({ 'one.ts': DAG('one') });
    const { program, record } = await fakeSsh();
    connections.set('git_ssh', connection({ connId: 'git_ssh', login: 'git', extra: { private_key: KEY } }));
    const b = bundle(
      { url: `ssh://git@git.example.invalid${repo.bare}`, connId: 'git_ssh' },
      { sshProgram: program, baseEnv: { ...process.env, DAGPROC_API_TOKEN_PATH: '/run/secret/token', DAGPROC_API_URL: 'http://x' } },
    );
    expect((await b.refresh()).version).toBe(a);

    const args = (await readFile(`${record}.args`, 'utf8')).split('\n');
    expect(args).toContain('IdentitiesOnly=yes');
    expect(args).toContain('StrictHostKeyChecking=accept-new');
    expect(args).toContain('BatchMode=yes');
    expect(args).toContain(`UserKnownHostsFile=${join(storage, 'repo', 'known_hosts')}`);
    expect(args).toContain('git@git.example.invalid');
    expect(args.join('\n')).not.toContain('fakekeymaterial');
    expect(await readFile(`${record}.keymode`, 'utf8')).toBe('600\n');
    expect(await readFile(`${record}.key`, 'utf8')).toBe(`${KEY}\n`);
    const keyPath = (await readFile(`${record}.keypath`, 'utf8')).trim();
    await expect(stat(keyPath)).rejects.toMatchObject({ code: 'ENOENT' });

    const env = await readFile(`${record}.env`, 'utf8');
    expect(env).not.toMatch(/^DAGPROC_/m);
    expect(env).toMatch(/^GIT_TERMINAL_PROMPT=0$/m);
    expect(env).not.toContain('fakekeymaterial');
    expect(await filesContaining(storage, 'fakekeymaterial')).toEqual([]);
  });

  it('kills a fetch that takes longer than its limit, with whatever git started, and says so', async () => {
    await repo.commit({ 'one.ts': DAG('one') });
    const program = join(dir, 'hanging-ssh');
    await writeFile(program, '#!/bin/sh\nsleep 60\n');
    await chmod(program, 0o755);
    const b = bundle({ url: `ssh://git@h${repo.bare}` }, { sshProgram: program, timeoutMs: 500 });
    const error = await failure(b.refresh());
    expect(error.reason).toBe(`fetching branch "main" from ssh://git@h${repo.bare} failed: git fetch timed out after 1 s`);
    expect(b.version).toBeNull();
  });

  it('runs its own ssh command (batch mode, the bundle\'s known_hosts) even without a Connection', async () => {
    const a = await repo.commit({ 'one.ts': DAG('one') });
    const { program, record } = await fakeSsh();
    expect((await bundle({ url: `ssh://git@h${repo.bare}` }, { sshProgram: program }).refresh()).version).toBe(a);
    const args = (await readFile(`${record}.args`, 'utf8')).split('\n');
    expect(args).toContain('BatchMode=yes');
    expect(args).not.toContain('-i');
  });

  it('checks host keys strictly against known_hosts from the Connection', async () => {
    await repo.commit({ 'one.ts': DAG('one') });
    const { program, record } = await fakeSsh();
    connections.set(
      'git_ssh',
      connection({ connId: 'git_ssh', extra: { private_key: KEY, known_hosts: 'git.example.invalid ssh-ed25519 AAAAC3Nza' } }),
    );
    await bundle({ url: `git@git.example.invalid:${repo.bare}`, connId: 'git_ssh' }, { sshProgram: program }).refresh();
    const args = (await readFile(`${record}.args`, 'utf8')).split('\n');
    expect(args).toContain('StrictHostKeyChecking=yes');
    expect(args.find((a) => a.startsWith('UserKnownHostsFile='))).toMatch(/\/tmp\/ssh-[^/]+\/known_hosts$/);
  });

  it('refuses a strict_host_key_checking it does not know', async () => {
    await repo.commit({ 'one.ts': DAG('one') });
    connections.set('git_ssh', connection({ connId: 'git_ssh', extra: { private_key: KEY, strict_host_key_checking: 'maybe' } }));
    const error = await failure(bundle({ url: `ssh://git@h${repo.bare}`, connId: 'git_ssh' }).refresh());
    expect(error.reason).toContain('strict_host_key_checking must be "yes", "no" or "accept-new"');
  });
});

describe('git command construction', () => {
  it('builds the ssh command with every path quoted for the shell', () => {
    expect(sshCommand({ program: 'ssh', identity: "/tmp/it's/key", knownHosts: '/s/known_hosts', strict: 'yes' })).toBe(
      `'ssh' -i '/tmp/it'\\''s/key' -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile='/s/known_hosts' -o BatchMode=yes`,
    );
    expect(sshCommand({ program: 'ssh', identity: null, knownHosts: '/k', strict: 'accept-new' })).not.toContain('-i');
  });

  it('gives git only the environment it needs: no DAGPROC_ settings, no prompts, no user or system config', () => {
    const env = gitEnvironment(
      { PATH: '/bin', DAGPROC_API_TOKEN_PATH: '/t', AWS_SECRET_ACCESS_KEY: 'x', HTTPS_PROXY: 'http://proxy' },
      '/storage/repo',
    );
    expect(Object.keys(env).filter((k) => k.startsWith('DAGPROC_') || k.startsWith('AWS_'))).toEqual([]);
    expect(env).toMatchObject({
      PATH: '/bin',
      HOME: '/storage/repo',
      HTTPS_PROXY: 'http://proxy',
      GIT_TERMINAL_PROMPT: '0',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_COUNT: '2',
      GIT_CONFIG_KEY_0: 'credential.helper',
      GIT_CONFIG_VALUE_0: '',
    });
  });

  it('tells transports apart and masks secrets line by line', () => {
    expect(['https://h/r.git', 'http://h/r', 'ssh://git@h/r', 'git@github.com:o/r.git', 'file:///r', 'git://h/r'].map(transportOf)).toEqual([
      'http', 'http', 'ssh', 'ssh', 'local', 'local',
    ]);
    expect(mask('key line-two-secret leaked and pw hunter22', ['line-one\nline-two-secret', 'hunter22'])).toBe('key *** leaked and pw ***');
  });
});

/** Files under `root` (recursively) whose bytes contain `needle`. */
async function filesContaining(root: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    if ((await readFile(path)).includes(needle)) found.push(path);
  }
  return found;
}
