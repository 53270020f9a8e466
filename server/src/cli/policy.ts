import { ApiClient, allPages, parseFlags, processIo, runOperator, table, usageError, type CliIo } from './api-client.ts';

export const POLICY_USAGE = `usage: pnpm dagproc policy <command>

  show [--bundle B]                         one bundle's access policy, or every policy
  set --bundle B --connections IDS --variables KEYS
                                            the bundle's DAG files may read only these (comma-separated;
                                            "team_a.*" is a prefix, "*" everything, "" nothing)
  clear --bundle B                          remove the policy: the bundle's files may read everything again

A bundle with no policy is unrestricted. A refused read is a 403 naming the id and the bundle,
which the DAG file gets as its import error; allowed and refused reads alike are in audit_log.

Uses DAGPROC_API_URL and an API token in DAGPROC_API_TOKEN_PATH (pnpm dagproc provision-token --for api --out FILE).
Exit codes: 0 done, 1 not found or refused by the server, 2 bad usage.
`;

interface Policy {
  bundleName: string;
  connectionIds: string[];
  variableKeys: string[];
  updatedAt: string;
  updatedBy: string | null;
}

const list = (items: string[]) => (items.length ? items.join(', ') : '(none)');
const split = (raw: string) => raw.split(',').map((s) => s.trim()).filter(Boolean);

export async function policyCommand(argv: string[], env: Record<string, string | undefined>, io: CliIo = processIo): Promise<number> {
  const [sub, ...rest] = argv;
  return runOperator(io, POLICY_USAGE, async () => {
    const flags = parseFlags(rest, { bundle: { type: 'string' }, connections: { type: 'string' }, variables: { type: 'string' } });
    if (flags.positionals.length) throw usageError(`unexpected argument '${flags.positionals[0]}'`);
    const bundle = flags.values.bundle;
    const path = () => `/bundles/${encodeURIComponent(bundle!)}/accessPolicy`;
    if (sub === 'show') {
      const client = await ApiClient.fromEnv(env);
      if (bundle === undefined) {
        const policies = await allPages<Policy>(client, '/accessPolicies', 'accessPolicies');
        io.out(
          policies.length
            ? table(['BUNDLE', 'CONNECTIONS', 'VARIABLES'], policies.map((p) => [p.bundleName, list(p.connectionIds), list(p.variableKeys)])) +
                'bundles not listed are unrestricted\n'
            : 'no access policies: every bundle is unrestricted\n',
        );
        return;
      }
      const reply = await client.expect('GET', path(), [200, 404]);
      if (reply.status === 404) {
        io.out(`bundle '${bundle}' has no access policy: its DAG files may read every Connection and Variable\n`);
        return;
      }
      const p = reply.body as Policy;
      io.out(`bundle:      ${p.bundleName}\nconnections: ${list(p.connectionIds)}\nvariables:   ${list(p.variableKeys)}\nupdated:     ${p.updatedAt} by ${p.updatedBy ?? 'unknown'}\n`);
      return;
    }
    if (sub === 'set') {
      if (bundle === undefined) throw usageError('policy set needs --bundle');
      const { connections, variables } = flags.values;
      // Both lists are required: a forgotten one would silently allow nothing of that kind.
      if (connections === undefined || variables === undefined) throw usageError('policy set needs both --connections and --variables ("" for none, "*" for all)');
      const client = await ApiClient.fromEnv(env);
      const { status, body } = await client.expect('PUT', path(), [200, 201], { connectionIds: split(connections), variableKeys: split(variables) });
      io.out(`access policy of bundle '${bundle}' ${status === 201 ? 'set' : 'replaced'}: connections ${list(body.connectionIds)}; variables ${list(body.variableKeys)}\n`);
      return;
    }
    if (sub === 'clear') {
      if (bundle === undefined) throw usageError('policy clear needs --bundle');
      const client = await ApiClient.fromEnv(env);
      await client.expect('DELETE', path(), [204]);
      io.out(`access policy of bundle '${bundle}' removed: the bundle is unrestricted\n`);
      return;
    }
    throw usageError(sub === undefined ? 'policy needs a command' : `unknown policy command '${sub}'`);
  });
}
