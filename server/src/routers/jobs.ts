import type { TRPCRouterRecord } from '@trpc/server';
import {
  aliveJobsInput,
  aliveJobsOutput,
  completeJobInput,
  heartbeatInput,
  heartbeatOutput,
  registerJobInput,
  registerJobOutput,
} from '@dagproc/shared';
import { aliveJobs, completeJob, heartbeatJob, registerJob } from '../db/queries/jobs.ts';
import { processorProcedure } from '../trpc.ts';

export const jobsRouter = {
  register: processorProcedure
    .input(registerJobInput)
    .output(registerJobOutput)
    .mutation(({ ctx, input }) => registerJob(ctx.deps.database.db, input)),

  heartbeat: processorProcedure
    .input(heartbeatInput)
    .output(heartbeatOutput)
    .mutation(async ({ ctx, input }) => {
      const row = await heartbeatJob(ctx.deps.database.db, input.jobId);
      return { state: row.state as 'running', latestHeartbeat: row.latestHeartbeat.toISOString() };
    }),

  complete: processorProcedure
    .input(completeJobInput)
    .mutation(({ ctx, input }) => completeJob(ctx.deps.database.db, input.jobId, input.state)),

  /** The liveness query behind `pnpm dagproc jobs check`. */
  alive: processorProcedure
    .input(aliveJobsInput)
    .output(aliveJobsOutput)
    .query(async ({ ctx, input }) => {
      const rows = await aliveJobs(ctx.deps.database.db, input);
      return {
        jobs: rows.map((j) => ({
          id: j.id,
          jobType: j.jobType,
          state: j.state,
          hostname: j.hostname,
          unixname: j.unixname,
          pid: j.pid,
          startDate: j.startDate.toISOString(),
          latestHeartbeat: j.latestHeartbeat.toISOString(),
        })),
      };
    }),
} satisfies TRPCRouterRecord;
