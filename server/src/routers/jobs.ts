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
import { aliveJobs, assertJobAccess, completeJob, heartbeatJob, registerJob } from '../db/queries/jobs.ts';
import { processorProcedure } from '../trpc.ts';

export const jobsRouter = {
  register: processorProcedure
    .input(registerJobInput)
    .output(registerJobOutput)
    .mutation(({ ctx, input }) =>
      registerJob(ctx.deps.database.db, { ...input, tokenBundles: ctx.claims.bundles ? [...ctx.claims.bundles].sort() : null }),
    ),

  heartbeat: processorProcedure
    .input(heartbeatInput)
    .output(heartbeatOutput)
    .mutation(async ({ ctx, input }) => {
      await assertJobAccess(ctx.deps.database.db, input.jobId, ctx.claims.bundles);
      const row = await heartbeatJob(ctx.deps.database.db, input.jobId);
      return { state: row.state, latestHeartbeat: row.latestHeartbeat.toISOString() };
    }),

  complete: processorProcedure
    .input(completeJobInput)
    .mutation(async ({ ctx, input }) => {
      await assertJobAccess(ctx.deps.database.db, input.jobId, ctx.claims.bundles);
      return completeJob(ctx.deps.database.db, input.jobId, input.state);
    }),

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
