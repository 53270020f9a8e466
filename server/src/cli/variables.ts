import { ApiClient, allPages, parseFlags, processIo, runOperator, table, usageError, type CliIo } from './api-client.ts';

export const VARIABLES_USAGE = `usage: pnpm dagproc variables <command>

  list                                 keys and descriptions (values are not listed)
  get KEY                              print the value
  set KEY VALUE [--description D]      create or replace
  set KEY --value-stdin [--description D]
                                       the value from standard input (keeps it out of the process list)
  delete KEY                           exit 1 when KEY does not exist

Uses DAGPROC_API_URL and an API token in DAGPROC_API_TOKEN_PATH (pnpm dagproc provision-token --for api --out FILE).
Exit codes: 0 done, 1 not found or refused by the server, 2 bad usage.
`;

export async function variablesCommand(argv: string[], env: Record<string, string | undefined>, io: CliIo = processIo): Promise<number> {
  const [sub, ...rest] = argv;
  return runOperator(io, VARIABLES_USAGE, async () => {
    if (sub === 'list') {
      const { positionals } = parseFlags(rest, {});
      if (positionals.length) throw usageError('variables list takes no arguments');
      const client = await ApiClient.fromEnv(env);
      const variables = await allPages<{ key: string; description: string | null }>(client, '/variables', 'variables');
      io.out(variables.length ? table(['KEY', 'DESCRIPTION'], variables.map((v) => [v.key, v.description ?? ''])) : 'no variables\n');
      return;
    }
    if (sub === 'get') {
      const { positionals } = parseFlags(rest, {});
      if (positionals.length !== 1) throw usageError('variables get takes one key');
      const client = await ApiClient.fromEnv(env);
      const { body } = await client.expect('GET', `/variables/${encodeURIComponent(positionals[0]!)}`, [200]);
      io.out(`${body.value}\n`);
      return;
    }
    if (sub === 'set') {
      const { positionals, values } = parseFlags(rest, { description: { type: 'string' }, 'value-stdin': { type: 'boolean' } });
      const fromStdin = Boolean(values['value-stdin']);
      if (positionals.length !== (fromStdin ? 1 : 2)) throw usageError(fromStdin ? 'variables set --value-stdin takes one key' : 'variables set takes a key and a value');
      const [key, given] = positionals as [string, string | undefined];
      const value = fromStdin ? (await io.readStdin()).replace(/\r?\n$/, '') : given!;
      const client = await ApiClient.fromEnv(env);
      const body = { value, ...(values.description === undefined ? {} : { description: values.description }) };
      const { status } = await client.expect('PUT', `/variables/${encodeURIComponent(key)}`, [200, 201], body);
      io.out(`variable '${key}' ${status === 201 ? 'created' : 'replaced'}\n`);
      return;
    }
    if (sub === 'delete') {
      const { positionals } = parseFlags(rest, {});
      if (positionals.length !== 1) throw usageError('variables delete takes one key');
      const client = await ApiClient.fromEnv(env);
      await client.expect('DELETE', `/variables/${encodeURIComponent(positionals[0]!)}`, [204]);
      io.out(`variable '${positionals[0]}' deleted\n`);
      return;
    }
    throw usageError(sub === undefined ? 'variables needs a command' : `unknown variables command '${sub}'`);
  });
}
