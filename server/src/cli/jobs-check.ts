import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { createTRPCClient, httpLink } from '@trpc/client';
import { z } from 'zod';
import { parseEnv, seconds, urlString } from '@dagproc/shared/config/env';
import { jobType } from '@dagproc/shared/schemas/jobs';
import { readTokenFile } from '@dagproc/shared/token-file';
import type { AppRouter } from '../routers/index.ts';

const USAGE = 'usage: dagproc jobs check [--job-type DagProcessorJob] [--hostname H | --local] [--limit N] [--allow-multiple]';

const env = z.object({
  DAGPROC_API_URL: urlString('http://127.0.0.1:8080'),
  DAGPROC_API_TOKEN_PATH: z.string({ message: 'required: the processor token file (DAGPROC_API_TOKEN_PATH)' }),
  DAGPROC_HEALTH_CHECK_THRESHOLD: seconds(30),
});

export interface JobsCheckIo {
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
}

class UsageError extends Error {}

/**
 * `pnpm dagproc jobs check`, as Airflow's `airflow jobs check`: exits 0 when a Job of the type
 * is alive (running, with a heartbeat within DAGPROC_HEALTH_CHECK_THRESHOLD), 1 otherwise.
 * It asks the API with the processor's own token, so it runs as a liveness probe beside the
 * processor with no database and no other token. Bad usage exits 2.
 *
 * Flags as Airflow's: `--job-type` (dagproc runs one type, DagProcessorJob, the default),
 * `--hostname H` or `--local` (this machine's hostname), `--limit N` (the N most recent alive
 * Jobs are looked at, default 1, 0 for no limit) and `--allow-multiple` (several alive Jobs
 * are not a failure; needs --limit above 1). Found Jobs are reported on stdout, a failure
 * on stderr, as Airflow does.
 */
export async function jobsCheckCommand(argv: string[], rawEnv: Record<string, string | undefined>, io: JobsCheckIo = {}): Promise<number> {
  const stdout = io.stdout ?? ((text: string) => process.stdout.write(text));
  const stderr = io.stderr ?? ((text: string) => process.stderr.write(text));
  let request: ReturnType<typeof parseRequest>;
  try {
    request = parseRequest(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    stderr(`jobs check: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  const config = parseEnv(env, rawEnv);
  const token = await readTokenFile(config.DAGPROC_API_TOKEN_PATH);
  const client = createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${config.DAGPROC_API_URL}/dag-processing/trpc`, headers: { authorization: `Bearer ${token}` } })],
  });
  let jobs;
  try {
    ({ jobs } = await client.jobs.alive.query({
      jobType: request.jobType,
      thresholdSeconds: config.DAGPROC_HEALTH_CHECK_THRESHOLD,
      ...(request.hostname ? { hostname: request.hostname } : {}),
    }));
  } catch (error) {
    // A probe that cannot ask is a failed probe, with the reason an operator needs.
    stderr(`Could not ask the API at ${config.DAGPROC_API_URL}: ${rootCause(error)}\n`);
    return 1;
  }
  // Newest heartbeat first, so the limit keeps the most recent Jobs, as Airflow's query does.
  const alive = request.limit > 0 ? jobs.slice(0, request.limit) : jobs;
  if (alive.length === 0) {
    stderr('No alive jobs found.\n');
    return 1;
  }
  if (alive.length > 1 && !request.allowMultiple) {
    stderr(`Found ${alive.length} alive jobs. Expected only one.\n`);
    return 1;
  }
  stdout(alive.length === 1 ? 'Found one alive job.\n' : `Found ${alive.length} alive jobs.\n`);
  return 0;
}

function parseRequest(argv: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'job-type': { type: 'string', default: 'DagProcessorJob' },
        hostname: { type: 'string' },
        local: { type: 'boolean', default: false },
        limit: { type: 'string', default: '1' },
        'allow-multiple': { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]!);
  }
  const type = jobType.safeParse(values['job-type']);
  if (!type.success) {
    throw new UsageError(`--job-type must be one of ${jobType.options.join(', ')}, the Job types dagproc runs (got ${JSON.stringify(values['job-type'])})`);
  }
  if (!/^\d+$/.test(values.limit)) throw new UsageError(`--limit must be a whole number, 0 for no limit (got ${JSON.stringify(values.limit)})`);
  const limit = Number(values.limit);
  if (values['allow-multiple'] && limit <= 1) {
    throw new UsageError('To use option --allow-multiple, you must set the limit to a value greater than 1.');
  }
  if (values.hostname !== undefined && values.local) throw new UsageError("You can't use --hostname and --local at the same time");
  if (values.hostname !== undefined && (values.hostname === '' || values.hostname.length > 255)) {
    throw new UsageError('--hostname must be 1 to 255 characters');
  }
  return {
    jobType: type.data,
    hostname: values.local ? hostname() : values.hostname,
    limit,
    allowMultiple: values['allow-multiple'],
  };
}

/** The innermost useful reason: `ECONNREFUSED` rather than tRPC's "fetch failed". */
function rootCause(error: unknown): string {
  let reason = error instanceof Error ? error.message : String(error);
  for (let e: unknown = error, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') reason = code;
    else if (e instanceof Error && e.message && e.message !== 'fetch failed') reason = e.message;
  }
  return reason;
}
