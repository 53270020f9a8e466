import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '@dagproc/server/cli/api-client';
import { connectionsCommand } from '@dagproc/server/cli/connections';
import { policyCommand } from '@dagproc/server/cli/policy';
import { variablesCommand } from '@dagproc/server/cli/variables';
import { startTestServer, type TestServer } from '@dagproc/server/testing/server';
import { rows } from '@dagproc/server/testing/sql';
import { TempBundle } from './helpers/bundle.ts';
import { startProcessor, writeToken, type ProcessorHandle } from './helpers/processor.ts';

/**
 * Issue 5's proof, end to end: parse-time secrets through the Execution API with per-file
 * tokens. An operator sets Variables, a Connection and a bundle access policy with the CLI
 * (through the public API); the real processor, in its own process, parses two bundles once;
 * then the database tells what the DAG files could and could not do.
 *
 * Also shown elsewhere: the processor's token file and /proc/<ppid>/environ refused to a DAG
 * file (tests/parsing.e2e.test.ts, processor/src/isolate/hostile.test.ts), token exchange
 * limits (server/src/routers/parsing.test.ts), key rotation (server/src/secrets/rotate.test.ts).
 */
let ts: TestServer;
let open: TempBundle;
let locked: TempBundle;
let tokenPath: string;
let cliDir: string;
let cliEnv: Record<string, string>;
let processor: ProcessorHandle;
let exitCode: number | null;

const db = () => ts.testDb.database.db;

async function cli(command: (argv: string[], env: Record<string, string | undefined>, io: CliIo) => Promise<number>, argv: string[]) {
  let err = '';
  const io: CliIo = { out: () => {}, err: (t) => void (err += t), readStdin: async () => 's3cret-pw\n' };
  const code = await command(argv, cliEnv, io);
  if (code !== 0) throw new Error(`dagproc ${argv.join(' ')} exited ${code}: ${err}`);
}

const importErrors = async (bundle: string) =>
  Object.fromEntries(
    (await rows(db(), 'select filename, stacktrace from import_error where bundle_name = $1', [bundle])).map((r) => [r.filename, r.stacktrace as string]),
  );

const dagTags = async (dagId: string) => (await rows(db(), 'select tags from dag where dag_id = $1', [dagId]))[0]?.tags as string[] | undefined;

beforeAll(async () => {
  ts = await startTestServer();
  cliDir = mkdtempSync(join(tmpdir(), 'dagproc-e2e-cli-'));
  const { token: apiToken } = await ts.auth.signer.mintApiToken({ subject: 'operator', lifetimeSeconds: 3600 });
  writeFileSync(join(cliDir, 'api.token'), apiToken, { mode: 0o600 });
  cliEnv = { DAGPROC_API_URL: ts.url, DAGPROC_API_TOKEN_PATH: join(cliDir, 'api.token') };

  // The operator's side: pnpm dagproc variables / connections / policy, through the server.
  await cli(variablesCommand, ['set', 'team_tags', '["finance", "daily"]']);
  await cli(variablesCommand, ['set', 'team_a.region', 'eu-west-1']);
  await cli(connectionsCommand, ['add', 'warehouse', '--conn-type', 'postgres', '--host', 'db.internal', '--port', '5432', '--login', 'etl', '--password-stdin', '--extra', '{"sslmode": "require", "api_token": "tok-xyz"}']);
  await cli(policyCommand, ['set', '--bundle', 'locked', '--connections', '', '--variables', 'team_a.*']);

  tokenPath = writeToken(await ts.processorToken());
  open = new TempBundle();
  locked = new TempBundle();

  open.write('tags_from_variable.ts', `import { dag, Variable } from '@dagproc/sdk';
const tags = (await Variable.get('team_tags', { deserializeJson: true })) as string[];
export default dag({ dagId: 'tagged_by_variable', schedule: '@daily', tags });
`);
  // A DAG file must never put a secret into its DAG (it would be serialized): it reports what it saw.
  open.write('reads_connection.ts', `import { dag, Connection } from '@dagproc/sdk';
const conn = await Connection.get('warehouse');
const seen = [conn.connType, conn.host + ':' + conn.port, conn.login, conn.password === 's3cret-pw' ? 'password-ok' : 'password-wrong',
  conn.extra?.api_token === 'tok-xyz' ? 'extra-ok' : 'extra-wrong'];
export default dag({ dagId: 'uses_warehouse', schedule: null, tags: seen });
`);
  open.write('unknown_variable.ts', `import { dag, Variable } from '@dagproc/sdk';
await Variable.get('no_such_variable');
export default dag({ dagId: 'never_defined_1' });
`);
  open.write('unknown_connection.ts', `import { dag, Connection } from '@dagproc/sdk';
await Connection.get('no_such_connection');
export default dag({ dagId: 'never_defined_2' });
`);
  // Steals its own per-file token (by wrapping node:http under the SDK) and tries it on the
  // processor's API, on another file's behalf, and on the Execution API itself (the control).
  open.write('steals_its_token.ts', `import http from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import { dag, Variable } from '@dagproc/sdk';
let stolen = '';
const realGet = http.get;
http.get = function (url: any, options: any, callback: any) {
  stolen = String(options?.headers?.authorization ?? '');
  return realGet.call(this, url, options, callback);
} as typeof http.get;
syncBuiltinESMExports();
await Variable.get('team_tags');
http.get = realGet;
syncBuiltinESMExports();

function call(method: string, path: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(${JSON.stringify(ts.url)} + path, { method, agent: false,
      headers: { authorization: stolen, 'content-type': 'application/json' } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
    request.end(body);
  });
}
const heartbeat = await call('POST', '/dag-processing/trpc/jobs.heartbeat', '{"jobId": 1}');
const exchange = await call('POST', '/dag-processing/trpc/parsing.fileToken', '{"bundleName": "main", "relativeFileloc": "other.ts"}');
const persist = await call('POST', '/dag-processing/trpc/parsing.persist', '{}');
const publicApi = await call('GET', '/api/v2/variables');
const execution = await call('GET', '/execution/variables/team_tags');
export default dag({
  dagId: 'stolen_token',
  tags: ['token-' + (stolen.startsWith('Bearer ') ? 'seen' : 'unseen'), 'heartbeat-' + heartbeat, 'exchange-' + exchange,
    'persist-' + persist, 'public-api-' + publicApi, 'execution-' + execution],
});
`);
  open.write('reads_token_file.ts', `import { readFileSync } from 'node:fs';
readFileSync(${JSON.stringify(tokenPath)}, 'utf8');
`);
  open.write('looks_at_env.ts', `import process from 'node:process';
import { dag } from '@dagproc/sdk';
export default dag({ dagId: 'env_seen', tags: ['env-names-' + Object.keys(process.env).length] });
`);

  locked.write('allowed.ts', `import { dag, Variable } from '@dagproc/sdk';
const region = await Variable.get('team_a.region');
export default dag({ dagId: 'locked_allowed', tags: [region] });
`);
  locked.write('denied_connection.ts', `import { dag, Connection } from '@dagproc/sdk';
await Connection.get('warehouse');
export default dag({ dagId: 'never_defined_3' });
`);
  locked.write('denied_variable.ts', `import { dag, Variable } from '@dagproc/sdk';
await Variable.get('team_tags');
export default dag({ dagId: 'never_defined_4' });
`);

  processor = startProcessor({
    apiUrl: ts.url,
    tokenPath,
    bundles: [
      { name: 'main', path: open.root },
      { name: 'locked', path: locked.root },
    ],
    args: ['--num-runs', '1'],
  });
  exitCode = await processor.exited;
}, 120_000);

afterAll(async () => {
  await processor?.stop();
  open?.dispose();
  locked?.dispose();
  if (cliDir) rmSync(cliDir, { recursive: true, force: true });
  await ts?.close();
});

describe('parse-time secrets through the Execution API', () => {
  it('the processor parsed both bundles once and exited 0', () => {
    expect(exitCode, JSON.stringify(processor.stderr)).toBe(0);
  });

  it("a DAG file's tags come from a Variable set with the CLI", async () => {
    expect(await dagTags('tagged_by_variable')).toEqual(['daily', 'finance']);
  });

  it('a DAG file reads a whole Connection, password and extra decrypted', async () => {
    expect(await dagTags('uses_warehouse')).toEqual(['db.internal:5432', 'etl', 'extra-ok', 'password-ok', 'postgres'].sort());
  });

  it('every read is in audit_log, naming the per-file principal, the bundle and the file', async () => {
    const audit = await rows(
      db(),
      "select event, owner, bundle_name, relative_fileloc, extra->>'outcome' as outcome from audit_log where event in ('variable.get', 'connection.get') and relative_fileloc in ('tags_from_variable.ts', 'reads_connection.ts', 'unknown_variable.ts') order by relative_fileloc",
    );
    expect(audit).toEqual([
      { event: 'connection.get', owner: 'dag-file', bundle_name: 'main', relative_fileloc: 'reads_connection.ts', outcome: 'read' },
      { event: 'variable.get', owner: 'dag-file', bundle_name: 'main', relative_fileloc: 'tags_from_variable.ts', outcome: 'read' },
      { event: 'variable.get', owner: 'dag-file', bundle_name: 'main', relative_fileloc: 'unknown_variable.ts', outcome: 'not_found' },
    ]);
  });

  it('an unknown Variable or Connection is a clear import error, not a crash', async () => {
    const errors = await importErrors('main');
    expect(errors['unknown_variable.ts']).toMatch(/^VariableNotFoundError: Variable 'no_such_variable' does not exist/);
    expect(errors['unknown_connection.ts']).toMatch(/^ConnectionNotFoundError: Connection 'no_such_connection' is not defined/);
  });

  it('secrets are encrypted at rest: no value, password or extra in the tables', async () => {
    const stored = JSON.stringify([...(await rows(db(), 'select * from variable')), ...(await rows(db(), 'select * from connection'))]);
    for (const plain of ['finance', 'eu-west-1', 's3cret-pw', 'tok-xyz', 'sslmode']) expect(stored).not.toContain(plain);
    const values = await rows(db(), "select val as v from variable union all select password from connection union all select extra #>> '{}' from connection");
    for (const { v } of values) expect(v).toMatch(/^dgp:v1:[0-9a-f]{8}:[A-Za-z0-9_-]+$/);
  });
});

describe('a per-file token is good for its own reads and nothing else', () => {
  it('a file that steals its token is refused by /dag-processing and the public API, for itself and for another file', async () => {
    expect(await importErrors('main')).not.toHaveProperty(['steals_its_token.ts']);
    expect(await dagTags('stolen_token')).toEqual(
      ['token-seen', 'heartbeat-401', 'exchange-401', 'persist-401', 'public-api-401', 'execution-200'].sort(),
    );
  });

  it("a file cannot read the processor's token file, and sees an empty process.env", async () => {
    expect((await importErrors('main'))['reads_token_file.ts']).toMatch(/restricted \(FileSystemRead .*processor\.token\)/);
    expect(await dagTags('env_seen')).toEqual(['env-names-0']);
  });
});

describe('a bundle access policy', () => {
  it('lets the bundle read what it lists', async () => {
    expect(await dagTags('locked_allowed')).toEqual(['eu-west-1']);
  });

  it("refuses the rest: the file's import error names the id, the bundle and the policy", async () => {
    const errors = await importErrors('locked');
    expect(errors['denied_connection.ts']).toMatch(
      /^Error: Connection 'warehouse': the API answered 403: .*connection 'warehouse' is not allowed by the access policy of bundle 'locked'/,
    );
    expect(errors['denied_variable.ts']).toMatch(/variable 'team_tags' is not allowed by the access policy of bundle 'locked'/);
  });

  it('records the refused reads too, against the file', async () => {
    const denied = await rows(
      db(),
      "select event, owner, bundle_name, relative_fileloc from audit_log where extra->>'outcome' = 'denied' order by relative_fileloc",
    );
    expect(denied).toEqual([
      { event: 'connection.get', owner: 'dag-file', bundle_name: 'locked', relative_fileloc: 'denied_connection.ts' },
      { event: 'variable.get', owner: 'dag-file', bundle_name: 'locked', relative_fileloc: 'denied_variable.ts' },
    ]);
  });

  it("the operator's writes are audited under the API token's subject, without secret values", async () => {
    const writes = await rows(db(), "select event, owner, extra from audit_log where owner = 'operator' order by id");
    expect(writes.map((w) => w.event)).toEqual(['variable.put', 'variable.put', 'connection.put', 'access_policy.put']);
    expect(JSON.stringify(writes)).not.toMatch(/s3cret|tok-xyz|finance|eu-west/);
  });
});
