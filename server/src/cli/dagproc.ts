import { ConfigError } from '@dagproc/shared/config/env';
import { TokenFileError } from '@dagproc/shared/token-file';

const USAGE = `usage: pnpm dagproc <command>

commands:
  db migrate                 apply pending database migrations
  provision-token --out FILE [--lifetime 24h] [--bundles a,b] [--for processor|api] [--watch]
                             mint a token into FILE (mode 0600, written atomically)
  jobs check [--job-type DagProcessorJob] [--hostname H | --local] [--limit N] [--allow-multiple]
                             exit 0 when a DAG processor Job is alive, 1 otherwise
`;

async function run(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  // Each command loads only its own code: `jobs check` runs as the processor's health probe,
  // where the database driver and signing code have no business being loaded.
  if (command === 'db' && sub === 'migrate') return (await import('./db-migrate.ts')).dbMigrateCommand(process.env);
  if (command === 'provision-token') return (await import('./provision-token.ts')).provisionTokenCommand(argv.slice(1), process.env);
  if (command === 'jobs' && sub === 'check') return (await import('./jobs-check.ts')).jobsCheckCommand(rest, process.env);
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
