import { and, desc, eq, gt, sql } from 'drizzle-orm';
import { DomainError } from '../../errors.ts';
import type { Db } from '../client.ts';
import { job } from '../schema.ts';

export interface RegisterJob {
  jobType: string;
  hostname: string;
  unixname: string;
  pid: number;
  registrationId?: string | undefined;
  /** The registering token's bundles claim, sorted; null for an unlimited token. */
  tokenBundles: string[] | null;
}

/** Registers a running Job; a retry carrying the same registrationId gets the same Job back. */
export async function registerJob(db: Db, input: RegisterJob): Promise<{ jobId: number }> {
  const values = {
    jobType: input.jobType,
    state: 'running',
    hostname: input.hostname,
    unixname: input.unixname,
    pid: input.pid,
    registrationId: input.registrationId ?? null,
    tokenBundles: input.tokenBundles,
  };
  if (!input.registrationId) {
    const [row] = await db.insert(job).values(values).returning({ id: job.id });
    return { jobId: row!.id };
  }
  const [inserted] = await db
    .insert(job)
    .values(values)
    .onConflictDoNothing({ target: job.registrationId })
    .returning({ id: job.id });
  if (inserted) return { jobId: inserted.id };
  const [existing] = await db.select({ id: job.id }).from(job).where(eq(job.registrationId, input.registrationId));
  return { jobId: existing!.id };
}

export class JobNotFound extends DomainError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

export class JobForbidden extends DomainError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

/**
 * A token limited to some bundles may heartbeat or complete only Jobs registered by a token
 * with the same limit, so one team's processor cannot end another's.
 */
export async function assertJobAccess(db: Db, jobId: number, tokenBundles: string[] | undefined): Promise<void> {
  if (!tokenBundles) return;
  const [row] = await db.select({ tokenBundles: job.tokenBundles }).from(job).where(eq(job.id, jobId));
  if (!row) throw new JobNotFound(`job ${jobId} does not exist`);
  const mine = [...tokenBundles].sort().join('\u0000');
  if (row.tokenBundles === null || [...row.tokenBundles].sort().join('\u0000') !== mine) {
    throw new JobForbidden(`this token may not act on job ${jobId}: it was registered by a token for other bundles`);
  }
}

/** Records a heartbeat at the server's clock; answers the Job's state so a Job stopped from outside can notice. */
export async function heartbeatJob(db: Db, jobId: number): Promise<{ state: string; latestHeartbeat: Date }> {
  const [row] = await db
    .update(job)
    .set({ latestHeartbeat: sql`now()` })
    .where(and(eq(job.id, jobId), eq(job.state, 'running')))
    .returning({ state: job.state, latestHeartbeat: job.latestHeartbeat });
  if (row) return row;
  const [current] = await db
    .select({ state: job.state, latestHeartbeat: job.latestHeartbeat })
    .from(job)
    .where(eq(job.id, jobId));
  if (!current) throw new JobNotFound(`job ${jobId} does not exist`);
  return current;
}

/** Ends a Job; completing an already-ended Job is a no-op, so a retried call is harmless. */
export async function completeJob(db: Db, jobId: number, state: 'success' | 'failed'): Promise<{ state: string }> {
  const [row] = await db
    .update(job)
    .set({ state, endDate: sql`now()` })
    .where(and(eq(job.id, jobId), eq(job.state, 'running')))
    .returning({ state: job.state });
  if (row) return row;
  const [current] = await db.select({ state: job.state }).from(job).where(eq(job.id, jobId));
  if (!current) throw new JobNotFound(`job ${jobId} does not exist`);
  return current;
}

/** Running Jobs whose latest heartbeat is at most thresholdSeconds old, newest first. */
export async function aliveJobs(db: Db, input: { jobType: string; hostname?: string | undefined; thresholdSeconds: number }) {
  const conditions = [
    eq(job.jobType, input.jobType),
    eq(job.state, 'running'),
    gt(job.latestHeartbeat, sql`now() - make_interval(secs => ${input.thresholdSeconds})`),
  ];
  if (input.hostname) conditions.push(eq(job.hostname, input.hostname));
  return db
    .select()
    .from(job)
    .where(and(...conditions))
    .orderBy(desc(job.latestHeartbeat))
    .limit(100);
}
