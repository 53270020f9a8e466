import type { TRPCRouterRecord } from '@trpc/server';
import { purgeWarningsInput, purgeWarningsOutput } from '@dagproc/shared';
import { purgeInactiveWarnings } from '../db/queries/stale.ts';
import { assertBundles, processorProcedure } from '../trpc.ts';

export const warningsRouter = {
  /** Deletes warnings of the bundles' stale DAGs. */
  purgeInactive: processorProcedure
    .input(purgeWarningsInput)
    .output(purgeWarningsOutput)
    .mutation(({ ctx, input }) => {
      assertBundles(ctx.claims, input.bundleNames);
      return purgeInactiveWarnings(ctx.deps.database.db, input);
    }),
} satisfies TRPCRouterRecord;
