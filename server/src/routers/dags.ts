import type { TRPCRouterRecord } from '@trpc/server';
import { sweepStaleDagsInput, sweepStaleDagsOutput } from '@dagproc/shared';
import { sweepStaleDags } from '../db/queries/stale.ts';
import { assertBundles, processorProcedure } from '../trpc.ts';

export const dagsRouter = {
  /** Marks the bundle's DAGs stale by DESIGN.md's rule, given the files the bundle holds now. */
  sweepStale: processorProcedure
    .input(sweepStaleDagsInput)
    .output(sweepStaleDagsOutput)
    .mutation(({ ctx, input }) => {
      assertBundles(ctx.claims, [input.bundleName]);
      return sweepStaleDags(ctx.deps.database.db, input);
    }),
} satisfies TRPCRouterRecord;
