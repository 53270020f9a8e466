import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTest, type ApiTest } from '../http/api/testing.ts';
import { TEST_SECRET_KEY } from '../testing/server.ts';
import { generateSecretKey } from '../secrets/cipher.ts';
import { openDatabase } from '../db/client.ts';
import { migrate } from '../db/migrate.ts';
import type { CliIo } from './api-client.ts';
import { connectionsCommand } from './connections.ts';
import { policyCommand } from './policy.ts';
import { rotateKeyCommand } from './secrets-rotate-key.ts';
import { variablesCommand } from './variables.ts';

/**
 * The operator commands against a real server, in process (they only use fetch): what they
 * print, what they change, and their exit codes.
 */
let api: ApiTest;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  api = await startApiTest();
  dir = mkdtempSync(join(tmpdir(), 'dagproc-cli-'));
  writeFileSync(join(dir, 'api.token'), api.token, { mode: 0o600 });
  env = { DAGPROC_API_URL: api.ts.url, DAGPROC_API_TOKEN_PATH: join(dir, 'api.token') };
});
afterAll(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A loopback port nothing listens on (fetch refuses some low ports outright). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

type Command = (argv: string[], env: Record<string, string | undefined>, io: CliIo) => Promise<number>;

async function run(command: Command, argv: string[], options: { stdin?: string; env?: Record<string, string> } = {}) {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => options.stdin ?? '' };
  const code = await command(argv, options.env ?? env, io);
  return { code, out, err };
}

describe('pnpm dagproc connections', () => {
  it('add creates a Connection from flags, with the password from stdin', async () => {
    const res = await run(connectionsCommand, ['add', 'warehouse', '--conn-type', 'postgres', '--host', 'db.internal', '--port', '5432', '--login', 'etl', '--password-stdin', '--extra', '{"sslmode": "require", "api_token": "tok-1"}'], { stdin: 's3cret\n' });
    expect(res).toEqual({ code: 0, out: "connection 'warehouse' added\n", err: '' });
    expect((await api.get('/connections/warehouse?reveal=true')).body).toMatchObject({ password: 's3cret', host: 'db.internal', port: 5432, extra: { api_token: 'tok-1' } });
  });

  it('add takes an Airflow connection URI', async () => {
    const res = await run(connectionsCommand, ['add', 'api_http', '--uri', 'https://svc:p%40ss@api.example.com:8443/v1?timeout=30']);
    expect(res.code).toBe(0);
    expect((await api.get('/connections/api_http?reveal=true')).body).toMatchObject({
      connType: 'https', login: 'svc', password: 'p@ss', host: 'api.example.com', port: 8443, schema: 'v1', extra: { timeout: '30' },
    });
  });

  it('list shows ids, types, hosts and logins, never a password', async () => {
    const res = await run(connectionsCommand, ['list']);
    expect(res.code).toBe(0);
    expect(res.out.split('\n')[0]).toMatch(/^ID\s+TYPE\s+HOST\s+LOGIN\s+PASSWORD$/);
    expect(res.out).toMatch(/warehouse\s+postgres\s+db\.internal:5432\s+etl\s+\*\*\*/);
    expect(res.out).not.toContain('s3cret');
    expect(res.out).not.toContain('p@ss');
  });

  it('get masks secrets, and shows them only with --reveal', async () => {
    const masked = await run(connectionsCommand, ['get', 'warehouse']);
    expect(JSON.parse(masked.out)).toMatchObject({ password: '***', extra: { api_token: '***', sslmode: 'require' } });
    const revealed = await run(connectionsCommand, ['get', 'warehouse', '--reveal']);
    expect(JSON.parse(revealed.out)).toMatchObject({ password: 's3cret', extra: { api_token: 'tok-1' } });
  });

  it('update changes only the fields given', async () => {
    expect(await run(connectionsCommand, ['update', 'warehouse', '--host', 'db2.internal'])).toEqual({
      code: 0,
      out: "connection 'warehouse' updated (host)\n",
      err: '',
    });
    expect((await api.get('/connections/warehouse?reveal=true')).body).toMatchObject({ host: 'db2.internal', password: 's3cret', login: 'etl' });
  });

  it('exits 1 naming the id for an existing add, an unknown update, get or delete', async () => {
    expect(await run(connectionsCommand, ['add', 'warehouse', '--conn-type', 'http'])).toMatchObject({ code: 1, err: "dagproc: the API answered 409: connection 'warehouse' already exists\n" });
    expect(await run(connectionsCommand, ['update', 'nope', '--host', 'x'])).toMatchObject({ code: 1, err: expect.stringContaining("connection 'nope' not found") });
    expect(await run(connectionsCommand, ['get', 'nope'])).toMatchObject({ code: 1 });
    expect(await run(connectionsCommand, ['delete', 'nope'])).toMatchObject({ code: 1 });
  });

  it('delete removes it', async () => {
    expect(await run(connectionsCommand, ['delete', 'api_http'])).toMatchObject({ code: 0, out: "connection 'api_http' deleted\n" });
    expect((await api.get('/connections/api_http')).status).toBe(404);
  });

  it.each([
    [['add', 'x'], 'connections add needs --conn-type'],
    [['add', 'x', '--conn-type', 'http', '--port', 'eighty'], '--port must be a number'],
    [['add', 'x', '--conn-type', 'http', '--extra', '{oops'], '--extra must be a JSON object'],
    [['add', 'x', '--conn-type', 'http', '--extra', '[1]'], 'extra: expected record'],
    [['add', 'bad id', '--conn-type', 'http'], 'connId: a variable key is letters'],
    [['update', 'warehouse'], 'needs at least one field'],
    [['get'], 'takes one connection id'],
    [['get', 'a', '--nope'], "Unknown option '--nope'"],
    [['frobnicate'], "unknown connections command 'frobnicate'"],
  ])('%j is bad usage: exit 2 with %s and the usage', async (argv, message) => {
    const res = await run(connectionsCommand, argv);
    expect(res.code).toBe(2);
    expect(res.err).toContain(message);
    expect(res.err).toContain('usage: pnpm dagproc connections');
  });
});

describe('pnpm dagproc variables', () => {
  it('set creates then replaces; get prints the value; list shows keys, not values', async () => {
    expect(await run(variablesCommand, ['set', 'target', 'prod', '--description', 'where to load'])).toMatchObject({ code: 0, out: "variable 'target' created\n" });
    expect(await run(variablesCommand, ['set', 'api_key', '--value-stdin'], { stdin: 'sk-live\n' })).toMatchObject({ code: 0 });
    expect(await run(variablesCommand, ['set', 'target', 'staging'])).toMatchObject({ code: 0, out: "variable 'target' replaced\n" });
    expect(await run(variablesCommand, ['get', 'target'])).toEqual({ code: 0, out: 'staging\n', err: '' });
    expect((await run(variablesCommand, ['get', 'api_key'])).out).toBe('sk-live\n');
    const list = await run(variablesCommand, ['list']);
    expect(list.out).toMatch(/^KEY\s+DESCRIPTION\napi_key\ntarget\n$/);
    expect(list.out).not.toContain('sk-live');
  });

  it('delete removes a key, and exits 1 for an unknown one', async () => {
    expect(await run(variablesCommand, ['delete', 'api_key'])).toMatchObject({ code: 0 });
    expect(await run(variablesCommand, ['get', 'api_key'])).toMatchObject({ code: 1, err: "dagproc: the API answered 404: variable 'api_key' not found\n" });
    expect(await run(variablesCommand, ['delete', 'api_key'])).toMatchObject({ code: 1 });
  });

  it('bad usage exits 2', async () => {
    expect((await run(variablesCommand, ['set', 'only_key'])).code).toBe(2);
    expect((await run(variablesCommand, ['set', 'bad key', 'v'])).code).toBe(2);
    expect((await run(variablesCommand, [])).code).toBe(2);
  });
});

describe('pnpm dagproc policy', () => {
  it('show says a bundle with no policy is unrestricted', async () => {
    expect(await run(policyCommand, ['show', '--bundle', 'team-a'])).toEqual({
      code: 0,
      out: "bundle 'team-a' has no access policy: its DAG files may read every Connection and Variable\n",
      err: '',
    });
    expect((await run(policyCommand, ['show'])).out).toBe('no access policies: every bundle is unrestricted\n');
  });

  it('set, show and clear a policy', async () => {
    expect(await run(policyCommand, ['set', '--bundle', 'team-a', '--connections', 'warehouse,team_a.*', '--variables', ''])).toEqual({
      code: 0,
      out: "access policy of bundle 'team-a' set: connections team_a.*, warehouse; variables (none)\n",
      err: '',
    });
    const shown = await run(policyCommand, ['show', '--bundle', 'team-a']);
    expect(shown.out).toMatch(/^bundle:      team-a\nconnections: team_a\.\*, warehouse\nvariables:   \(none\)\nupdated:     \S+ by admin\n$/);
    expect((await run(policyCommand, ['show'])).out).toMatch(/^BUNDLE\s+CONNECTIONS\s+VARIABLES\nteam-a\s+team_a\.\*, warehouse\s+\(none\)\nbundles not listed are unrestricted\n$/);
    expect(await run(policyCommand, ['clear', '--bundle', 'team-a'])).toMatchObject({ code: 0, out: "access policy of bundle 'team-a' removed: the bundle is unrestricted\n" });
    expect(await run(policyCommand, ['clear', '--bundle', 'team-a'])).toMatchObject({ code: 1 });
  });

  it.each([
    [['set', '--bundle', 'b', '--connections', 'a'], 'needs both --connections and --variables'],
    [['set', '--connections', 'a', '--variables', 'b'], 'policy set needs --bundle'],
    [['set', '--bundle', 'b', '--connections', 'a b', '--variables', ''], 'connectionIds.0:'],
    [['clear'], 'policy clear needs --bundle'],
    [['show', 'extra'], "unexpected argument 'extra'"],
  ])('%j is bad usage: exit 2 with %s', async (argv, message) => {
    const res = await run(policyCommand, argv);
    expect(res.code).toBe(2);
    expect(res.err).toContain(message);
  });
});

describe('operator commands: configuration and the server', () => {
  it('a missing token path is exit 2 naming DAGPROC_API_TOKEN_PATH', async () => {
    const res = await run(variablesCommand, ['list'], { env: { DAGPROC_API_URL: api.ts.url } });
    expect(res.code).toBe(2);
    expect(res.err).toMatch(/^dagproc: DAGPROC_API_TOKEN_PATH: required/);
  });

  it('a processor token (wrong audience) is refused by the server: exit 1 with its reason', async () => {
    writeFileSync(join(dir, 'processor.token'), await api.ts.processorToken());
    const res = await run(variablesCommand, ['list'], { env: { ...env, DAGPROC_API_TOKEN_PATH: join(dir, 'processor.token') } });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/^dagproc: the API answered 401: .*audience/);
  });

  it('an API nobody answers is exit 1 saying where it tried', async () => {
    const port = await closedPort();
    const res = await run(variablesCommand, ['list'], { env: { ...env, DAGPROC_API_URL: `http://127.0.0.1:${port}` } });
    expect(res).toMatchObject({ code: 1, err: `dagproc: could not reach the API at http://127.0.0.1:${port}: ECONNREFUSED\n` });
  });
});

describe('pnpm dagproc secrets rotate-key', () => {
  it('needs DAGPROC_SECRET_KEY (exit 2), then encrypts what a keyless server stored and reports counts', async () => {
    const dataDir = join(dir, 'data');
    const database = await openDatabase({ dataDir: join(dataDir, 'pglite') });
    await migrate(database.db);
    await database.db.execute("insert into variable (key, val) values ('stored_plain', 'v')" as never);
    await database.close();
    expect(await run(rotateKeyCommand, [], { env: { DAGPROC_DATA_DIR: dataDir } })).toMatchObject({ code: 2, err: expect.stringContaining('DAGPROC_SECRET_KEY is not set') });
    const first = await run(rotateKeyCommand, [], { env: { DAGPROC_DATA_DIR: dataDir, DAGPROC_SECRET_KEY: TEST_SECRET_KEY } });
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/^secrets now under key [0-9a-f]{8}:\n  variables +0 re-encrypted, 1 encrypted from plaintext, 0 already current\n  connections +0 re-encrypted, 0 encrypted/);
    const next = generateSecretKey();
    const second = await run(rotateKeyCommand, [], { env: { DAGPROC_DATA_DIR: dataDir, DAGPROC_SECRET_KEY: next, DAGPROC_SECRET_KEY_PREVIOUS: TEST_SECRET_KEY } });
    expect(second.out).toContain('variables    1 re-encrypted, 0 encrypted from plaintext, 0 already current');
  });
});
