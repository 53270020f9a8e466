import type { TRPCRouterRecord } from '@trpc/server';
import { bundleFilesInput, purgeImportErrorsOutput } from '@dagproc/shared';
import { purgeImportErrors } from '../db/queries/stale.ts';
import { assertBundles, processorProcedure } from '../trpc.ts';

export const importErrorsRouter = {
  /** Deletes the import errors of files the bundle no longer holds. */
  purgeMissing: processorProcedure
    .input(bundleFilesInput)
    .output(purgeImportErrorsOutput)
    .mutation(({ ctx, input }) => {
      assertBundles(ctx.claims, [input.bundleName]);
      return purgeImportErrors(ctx.deps.database.db, input);
    }),
} satisfies TRPCRouterRecord;
