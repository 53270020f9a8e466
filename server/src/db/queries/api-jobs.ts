import { sql, type SQL } from 'drizzle-orm';
import type { JobResponse } from '@dagproc/shared/schemas/api';
import type { Db } from '../client.ts';
import { queryRows, toIso } from '../client.ts';
import { allOf, countOf, type Page } from './api-common.ts';

export interface JobFilter {
  jobType?: string | undefined;
  state?: string | undefined;
  hostname?: string | undefined;
}

/**
 * Jobs, newest first. The heartbeat's age is measured by the database's clock, the same clock
 * that stamped it, so a browser or server with a skewed clock still reads it right.
 */
export async function listJobs(db: Db, filter: JobFilter, page: Page): Promise<{ jobs: JobResponse[]; totalEntries: number }> {
  const conditions: SQL[] = [];
  if (filter.jobType !== undefined) conditions.push(sql`j.job_type = ${filter.jobType}`);
  if (filter.state !== undefined) conditions.push(sql`j.state = ${filter.state}`);
  if (filter.hostname !== undefined) conditions.push(sql`j.hostname = ${filter.hostname}`);
  const where = allOf(conditions);
  const rows = await queryRows<{
    id: number | string;
    job_type: string;
    state: string;
    hostname: string;
    unixname: string;
    pid: number;
    start_date: unknown;
    end_date: unknown;
    latest_heartbeat: unknown;
    heartbeat_age_seconds: number | string;
  }>(
    db,
    sql`select j.id, j.job_type, j.state, j.hostname, j.unixname, j.pid, j.start_date, j.end_date, j.latest_heartbeat,
               extract(epoch from (now() - j.latest_heartbeat))::float8 as heartbeat_age_seconds
        from job j where ${where}
        order by j.start_date desc, j.id desc limit ${page.limit} offset ${page.offset}`,
  );
  return {
    jobs: rows.map((r) => ({
      id: Number(r.id),
      jobType: r.job_type,
      state: r.state,
      hostname: r.hostname,
      unixname: r.unixname,
      pid: Number(r.pid),
      startDate: toIso(r.start_date),
      endDate: r.end_date === null ? null : toIso(r.end_date),
      latestHeartbeat: toIso(r.latest_heartbeat),
      heartbeatAgeSeconds: Math.max(0, Number(r.heartbeat_age_seconds)),
    })),
    totalEntries: await countOf(db, sql`job j`, where),
  };
}
