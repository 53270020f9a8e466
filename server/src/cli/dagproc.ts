import { ConfigError } from '@dagproc/shared/config/env';
import { TokenFileError } from '@dagproc/shared/token-file';

const USAGE = `usage: pnpm dagproc <command>

commands:
  db migrate                 apply pending database migrations
  provision-token --out FILE [--lifetime 24h] [--bundles a,b] [--for processor|api] [--watch]
                             mint a token into FILE (mode 0600, written atomically)
  jobs check [--job-type DagProcessorJob] [--hostname H | --local] [--limit N] [--allow-multiple]
                             exit 0 when a DAG processor Job is alive, 1 otherwise
  connections list|get|add|update|delete ...
                             manage Connections through the API (passwords masked; get --reveal shows them)
  variables list|get|set|delete ...
                             manage Variables through the API
  policy show|set|clear [--bundle B] ...
                             which Connections and Variables a bundle's DAG files may read
  secrets rotate-key         re-encrypt every stored secret under DAGPROC_SECRET_KEY (direct database
                             access, like db migrate; older keys in DAGPROC_SECRET_KEY_PREVIOUS)

connections, variables and policy use DAGPROC_API_URL and an API token in DAGPROC_API_TOKEN_PATH
(pnpm dagproc provision-token --for api --out FILE); "pnpm dagproc connections help" and so on show their options.
Exit codes: 0 done, 1 not found / refused / failed, 2 bad usage or configuration.
`;

/** The operator commands that act through the public API, each loaded only when used. */
const OPERATOR_COMMANDS = {
  connections: () => import('./connections.ts').then((m) => ({ usage: m.CONNECTIONS_USAGE, run: m.connectionsCommand })),
  variables: () => import('./variables.ts').then((m) => ({ usage: m.VARIABLES_USAGE, run: m.variablesCommand })),
  policy: () => import('./policy.ts').then((m) => ({ usage: m.POLICY_USAGE, run: m.policyCommand })),
};

async function run(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  // Each command loads only its own code: `jobs check` runs as the processor's health probe,
  // where the database driver and signing code have no business being loaded.
  if (command === 'db' && sub === 'migrate') return (await import('./db-migrate.ts')).dbMigrateCommand(process.env);
  if (command === 'provision-token') return (await import('./provision-token.ts')).provisionTokenCommand(argv.slice(1), process.env);
  if (command === 'jobs' && sub === 'check') return (await import('./jobs-check.ts')).jobsCheckCommand(rest, process.env);
  const operator = command !== undefined && Object.hasOwn(OPERATOR_COMMANDS, command) ? OPERATOR_COMMANDS[command as keyof typeof OPERATOR_COMMANDS] : undefined;
  if (operator) {
    const { usage, run: runCommand } = await operator();
    if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
      process.stdout.write(usage);
      return sub === undefined ? 2 : 0;
    }
    return runCommand(argv.slice(1), process.env);
  }
  if (command === 'secrets' && sub === 'rotate-key') return (await import('./secrets-rotate-key.ts')).rotateKeyCommand(rest, process.env);
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  process.stderr.write(`dagproc: unknown command '${[command, sub].filter(Boolean).join(' ')}'\n\n${USAGE}`);
  return 2;
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`dagproc: ${message}\n`);
    process.exit(error instanceof ConfigError || error instanceof TokenFileError ? 2 : 1);
  },
);
