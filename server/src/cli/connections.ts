import { ApiClient, allPages, parseFlags, processIo, runOperator, table, usageError, type CliIo } from './api-client.ts';

export const CONNECTIONS_USAGE = `usage: pnpm dagproc connections <command>

  list                          ids, types and hosts (passwords never shown)
  get ID [--reveal]             one Connection as JSON; secrets masked unless --reveal (audited)
  add ID --conn-type TYPE [fields] | add ID --uri URI [fields]
                                create; exit 1 when ID exists
  update ID [fields]            change only the fields given; exit 1 when ID does not exist
  delete ID                     exit 1 when ID does not exist

fields: --host H  --port N  --login L  --schema S  --description D
        --password P | --password-stdin (keeps it out of the process list)
        --extra JSON (an object)
        --uri TYPE://LOGIN:PASSWORD@HOST:PORT/SCHEMA?key=value (extra from the query)

Uses DAGPROC_API_URL and an API token in DAGPROC_API_TOKEN_PATH (pnpm dagproc provision-token --for api --out FILE).
Exit codes: 0 done, 1 not found or refused by the server, 2 bad usage.
`;

const FIELD_FLAGS = {
  'conn-type': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  login: { type: 'string' },
  password: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  schema: { type: 'string' },
  description: { type: 'string' },
  extra: { type: 'string' },
  uri: { type: 'string' },
} as const;

type Fields = Record<string, unknown>;

export async function connectionsCommand(argv: string[], env: Record<string, string | undefined>, io: CliIo = processIo): Promise<number> {
  const [sub, ...rest] = argv;
  return runOperator(io, CONNECTIONS_USAGE, async () => {
    if (sub === 'list') {
      const { positionals } = parseFlags(rest, {});
      if (positionals.length) throw usageError(`connections list takes no arguments`);
      const client = await ApiClient.fromEnv(env);
      const connections = await allPages<Fields>(client, '/connections', 'connections');
      const rows = connections.map((c) => [
        String(c.connId),
        String(c.connType),
        c.host === null ? '' : `${c.host}${c.port === null ? '' : `:${c.port}`}`,
        c.login === null ? '' : String(c.login),
        c.password === null ? '' : '***',
      ]);
      io.out(connections.length ? table(['ID', 'TYPE', 'HOST', 'LOGIN', 'PASSWORD'], rows) : 'no connections\n');
      return;
    }
    if (sub === 'get') {
      const { positionals, values } = parseFlags(rest, { reveal: { type: 'boolean' } });
      const id = onlyId(positionals, 'get');
      const client = await ApiClient.fromEnv(env);
      const reply = await client.expect('GET', `/connections/${encodeURIComponent(id)}${values.reveal ? '?reveal=true' : ''}`, [200]);
      io.out(`${JSON.stringify(reply.body, null, 2)}\n`);
      return;
    }
    if (sub === 'add' || sub === 'update') {
      const { positionals, values } = parseFlags(rest, FIELD_FLAGS);
      const id = onlyId(positionals, sub);
      const fields = await fieldsOf(values, io);
      const client = await ApiClient.fromEnv(env);
      if (sub === 'add') {
        if (fields.connType === undefined) throw usageError('connections add needs --conn-type (or --uri)');
        await client.expect('POST', '/connections', [201], { connId: id, ...fields });
        io.out(`connection '${id}' added\n`);
      } else {
        if (Object.keys(fields).length === 0) throw usageError('connections update needs at least one field to change');
        await client.expect('PATCH', `/connections/${encodeURIComponent(id)}`, [200], fields);
        io.out(`connection '${id}' updated (${Object.keys(fields).join(', ')})\n`);
      }
      return;
    }
    if (sub === 'delete') {
      const { positionals } = parseFlags(rest, {});
      const id = onlyId(positionals, 'delete');
      const client = await ApiClient.fromEnv(env);
      await client.expect('DELETE', `/connections/${encodeURIComponent(id)}`, [204]);
      io.out(`connection '${id}' deleted\n`);
      return;
    }
    throw usageError(sub === undefined ? 'connections needs a command' : `unknown connections command '${sub}'`);
  });
}

function onlyId(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw usageError(`connections ${command} takes one connection id`);
  return positionals[0]!;
}

/** The body fields the flags give; the server validates their values. */
async function fieldsOf(values: Record<string, string | boolean | undefined>, io: CliIo): Promise<Fields> {
  const fields: Fields = values.uri === undefined ? {} : fromUri(String(values.uri));
  const text = (flag: string, field: string) => {
    if (values[flag] !== undefined) fields[field] = values[flag];
  };
  text('conn-type', 'connType');
  text('host', 'host');
  text('login', 'login');
  text('schema', 'schema');
  text('description', 'description');
  text('password', 'password');
  if (values.port !== undefined) {
    if (!/^\d{1,5}$/.test(String(values.port))) throw usageError(`--port must be a number from 0 to 65535 (got ${JSON.stringify(values.port)})`);
    fields.port = Number(values.port);
  }
  if (values.extra !== undefined) {
    try {
      fields.extra = JSON.parse(String(values.extra));
    } catch {
      throw usageError('--extra must be a JSON object, e.g. --extra \'{"sslmode": "require"}\'');
    }
  }
  if (values['password-stdin']) {
    if (values.password !== undefined) throw usageError('give --password or --password-stdin, not both');
    fields.password = (await io.readStdin()).replace(/\r?\n$/, '');
  }
  return fields;
}

/** Airflow's connection URI: the scheme is the type, the query the extra. */
function fromUri(raw: string): Fields {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`--uri is not a URI: expected TYPE://LOGIN:PASSWORD@HOST:PORT/SCHEMA`);
  }
  const fields: Fields = { connType: url.protocol.slice(0, -1).replace(/-/g, '_') };
  if (url.hostname) fields.host = decodeURIComponent(url.hostname);
  if (url.port) fields.port = Number(url.port);
  if (url.username) fields.login = decodeURIComponent(url.username);
  if (url.password) fields.password = decodeURIComponent(url.password);
  const schema = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (schema) fields.schema = schema;
  if ([...url.searchParams].length) fields.extra = Object.fromEntries(url.searchParams);
  return fields;
}
