import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { createTRPCClient, httpLink } from '@trpc/client';
import { z } from 'zod';
import { parseEnv, seconds, urlString } from '@dagproc/shared/config/env';
import { readTokenFile } from '@dagproc/shared/token-file';
import type { AppRouter } from '../routers/index.ts';

const USAGE = 'usage: dagproc jobs check [--hostname H | --local] [--limit N] [--allow-multiple]';

const env = z.object({
  DAGPROC_API_URL: urlString('http://127.0.0.1:8080'),
  DAGPROC_API_TOKEN_PATH: z.string({ message: 'required: the processor token file (DAGPROC_API_TOKEN_PATH)' }),
  DAGPROC_HEALTH_CHECK_THRESHOLD: seconds(30),
});

/**
 * `pnpm dagproc jobs check`: exits 0 when a DagProcessorJob is alive (running, with a heartbeat
 * within DAGPROC_HEALTH_CHECK_THRESHOLD), 1 otherwise, as Airflow's `airflow jobs check`. It
 * asks the API with the processor's own token, so a liveness probe needs no database.
 */
export async function jobsCheckCommand(argv: string[], rawEnv: Record<string, string | undefined>): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        hostname: { type: 'string' },
        local: { type: 'boolean', default: false },
        limit: { type: 'string', default: '1' },
        'allow-multiple': { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`jobs check: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const config = parseEnv(env, rawEnv);
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    process.stderr.write(`jobs check: --limit must be a whole number of at least 1\n${USAGE}\n`);
    return 2;
  }
  const host = values.local ? hostname() : values.hostname;
  const token = await readTokenFile(config.DAGPROC_API_TOKEN_PATH);
  const client = createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${config.DAGPROC_API_URL}/dag-processing/trpc`, headers: { authorization: `Bearer ${token}` } })],
  });
  let jobs;
  try {
    ({ jobs } = await client.jobs.alive.query({
      jobType: 'DagProcessorJob',
      thresholdSeconds: config.DAGPROC_HEALTH_CHECK_THRESHOLD,
      ...(host ? { hostname: host } : {}),
    }));
  } catch (error) {
    // A probe that cannot ask is a failed probe, with the reason an operator needs.
    process.stdout.write(`Could not ask the API at ${config.DAGPROC_API_URL}: ${rootCause(error)}\n`);
    return 1;
  }
  const alive = jobs.slice(0, limit);
  if (alive.length === 0) {
    process.stdout.write('No alive jobs found.\n');
    return 1;
  }
  if (alive.length > 1 && !values['allow-multiple']) {
    process.stdout.write(`Found ${alive.length} alive jobs; expected one (pass --allow-multiple).\n`);
    return 1;
  }
  process.stdout.write(alive.length === 1 ? 'Found one alive job.\n' : `Found ${alive.length} alive jobs.\n`);
  return 0;
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
