import type { TRPCRouterRecord } from '@trpc/server';
import { fileTokenInput, fileTokenOutput, persistFileInput, persistFileOutput } from '@dagproc/shared';
import { persistFile } from '../db/queries/persist.ts';
import { isRetryableTransactionError } from '../errors.ts';
import { assertBundles, processorProcedure } from '../trpc.ts';

/** Long enough for a parse at the longest sensible timeout, short enough to be useless if leaked. */
export const FILE_TOKEN_LIFETIME_SECONDS = 15 * 60;

export const parsingRouter = {
  /** Stores one file's parse results in one transaction. */
  persist: processorProcedure
    .input(persistFileInput)
    .output(persistFileOutput)
    .mutation(async ({ ctx, input }) => {
      assertBundles(ctx.claims, [input.bundleName]);
      // Two files sharing dag ids, persisted at once, can deadlock; Postgres aborts one and it runs again.
      for (let attempt = 1; ; attempt++) {
        try {
          const result = await persistFile(ctx.deps.database.db, input);
          ctx.deps.metrics.persisted.inc({ outcome: result.outcome });
          return result;
        } catch (error) {
          if (attempt >= 3 || !isRetryableTransactionError(error)) throw error;
          ctx.deps.metrics.persistRetries.inc();
        }
      }
    }),

  /**
   * Exchanges the processor's token for a short-lived one naming a single file, audience
   * execution only: all the parse isolate ever holds.
   */
  fileToken: processorProcedure
    .input(fileTokenInput)
    .output(fileTokenOutput)
    .mutation(async ({ ctx, input }) => {
      assertBundles(ctx.claims, [input.bundleName]);
      const { token, expiresAt } = await ctx.deps.fileTokens.mintFileToken({
        bundle: input.bundleName,
        file: input.relativeFileloc,
        lifetimeSeconds: FILE_TOKEN_LIFETIME_SECONDS,
      });
      return { token, expiresAt: expiresAt.toISOString() };
    }),
} satisfies TRPCRouterRecord;
